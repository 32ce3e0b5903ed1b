package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// general is what the general path makes of an event line: encoding/json
// into a Leaf, then its bytes.
func general(line []byte) (Leaf, []byte, error) {
	var l Leaf
	if err := json.Unmarshal(line, &l); err != nil {
		return Leaf{}, nil, err
	}
	return l, l.Bytes(), nil
}

// checkFastLine holds the fast line decoder to the general path on line.
func checkFastLine(t *testing.T, line []byte) bool {
	t.Helper()
	var lp lineParser
	fast, err := lp.fast(line, nil)
	if err != nil {
		return false
	}
	l, want, gerr := general(line)
	if gerr != nil {
		t.Fatalf("fast accepted %q; general: %v", line, gerr)
	}
	if !bytes.Equal(fast.bytes, want) {
		t.Fatalf("%s:\nfast    %s\ngeneral %s", line, fast.bytes, want)
	}
	if string(fast.stream) != l.Stream {
		t.Fatalf("%s: fast stream %s, general %s", line, fast.stream, l.Stream)
	}
	return true
}

// FuzzLineFast holds the fast event-line decoder to the general one:
// wherever it answers, it answers the same.
func FuzzLineFast(f *testing.F) {
	for _, s := range []string{
		`{"position":1,"stream":"as_a:referral-X","version":1,"id":"ev_1","type":"ReferralCreated","recorded_at":"2026-01-01T00:00:00.000Z","data":{"b":1,"a":"x"},"metadata":{"key_id":"key_1"}}`,
		`{"id":"e","stream":"s","version":0,"type":"t","recorded_at":"r","data":null,"metadata":null,"leaf_index":null}`,
		`{"id":"e","ID":"f","stream":"s","version":1,"type":"t","recorded_at":"r","data":{},"metadata":{}}`,
		`{"id":"e","stream":"s","version":-1,"type":"t","recorded_at":"r","data":{},"metadata":{}}`,
		`{"id":"e\u0041","stream":"s","version":1,"type":"t","recorded_at":"r","data":{"a":1,"a":2},"metadata":{}}`,
		`{"error":"internal error","code":"internal"}`, `{}`, `[]`, ` {"id" : "e" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkFastLine(t, line) })
}

// TestLineFastMatchesGeneral compares the two on random event lines:
// members in any order, extra members, names that fold to a leaf's,
// duplicates, missing members, escapes and non-ASCII, odd versions, and
// data of every kind.
func TestLineFastMatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	// odd is one value in eight off the fast path.
	odd := func(good []string, bad ...string) string {
		if r.IntN(8) == 0 {
			return pick(bad...)
		}
		return pick(good...)
	}
	str := func() string {
		return odd([]string{`"ev_01J"`, `"as_a:referral-ABC"`, `""`, `"2026-01-01T00:00:00.000Z"`}, `"caf\u00e9"`, `"é"`, `"a\"b"`, `"x\u003cy"`)
	}
	data := func() string {
		return odd([]string{`{"b":1,"a":[true,null,"x"]}`, `null`, `{}`, `[1, 2 ]`, `"text"`, `{"z":{"y":{"x":-42}}}`,
			`{"referral_code":"ABC","referrer_id":"u1","created_at":"2026-01-01T00:00:00Z"}`}, `{"a":1,"a":2}`, `{"n":1.5}`, `{"s":"é"}`)
	}
	fastCount := 0
	for range 20000 {
		members := []string{
			`"id":` + str(), `"stream":` + str(), `"type":` + str(), `"recorded_at":` + str(),
			`"version":` + odd([]string{`1`, `0`, `42`, `123456789012345`}, `1234567890123456`, `-1`, `1.0`, `01`, `"1"`),
			`"data":` + data(), `"metadata":` + data(),
		}
		if r.IntN(2) == 0 {
			members = append(members, `"position":`+pick(`7`, `12345678901234567`, `null`))
		}
		if r.IntN(4) == 0 {
			members = append(members, pick(`"leaf_index":null`, `"ID":"other"`, `"Stream":"other"`, `"id":"dup"`, `"error":"x"`))
		}
		if r.IntN(10) == 0 {
			members = members[1:] // one missing
		}
		r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		sep := pick(",", ", ", " ,\t")
		line := pick("", " ") + "{" + strings.Join(members, sep) + "}" + pick("", " ", "x")
		if checkFastLine(t, []byte(line)) {
			fastCount++
		}
	}
	if fastCount < 2000 {
		t.Errorf("only %d of 20000 lines took the fast path", fastCount)
	}
}

// eventLines returns n event lines as an export writes them, every third
// of appspace b, one in seven with data off the fast path.
func eventLines(n int) ([]byte, []Leaf) {
	var out bytes.Buffer
	var leaves []Leaf
	for i := range n {
		app, data := "as_a", fmt.Sprintf(`{"referral_code":"C%d","referrer_id":"user-%d","pad":"%s"}`, i, i, strings.Repeat("p", i%300))
		if i%3 == 0 {
			app = "as_b"
		}
		if i%7 == 0 {
			data = fmt.Sprintf(`{"note":"caf\u00e9 <%d>","n":1.5}`, i)
		}
		l := Leaf{ID: fmt.Sprintf("ev_%06d", i), Stream: app + ":referral-C" + fmt.Sprint(i), Version: uint64(1 + i%4),
			Type: "ReferralCreated", RecordedAt: "2026-01-01T00:00:00.000Z", Data: json.RawMessage(data), Metadata: json.RawMessage(`{"key_id":"key_1"}`)}
		line, err := eventLine(l)
		if err != nil {
			panic(err)
		}
		out.Write(line)
		leaves = append(leaves, l)
	}
	return out.Bytes(), leaves
}

// eventLine is l as an export's line (position 1).
func eventLine(l Leaf) ([]byte, error) {
	line, err := json.Marshal(struct {
		Position int `json:"position"`
		Leaf
	}{1, l})
	return append(line, '\n'), err
}
