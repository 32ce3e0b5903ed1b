package audit

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzCanonicalFast holds the fast canonicalizer to the general one:
// wherever it answers, it answers the same, and it never accepts what the
// general one refuses.
func FuzzCanonicalFast(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[true,false,null,{"z":"x","y":-12}]}`, `{"a":1,"a":2}`, `[ 1 , 2 ]`, `-0`, `0`, `01`, `1.5`, `1e3`,
		`123456789012345`, `1234567890123456`, `"caf\u00e9"`, `"é"`, `{"referral_code":"ABC","created_at":"2026-01-01T00:00:00Z"}`,
		`{}`, `[]`, ` {"k" : [ {} , [] ] } `, `{"a!":1,"a":2}`, `{"a":1,"a ":2}`, `{"b":{"y":1,"x":2},"a":[{"d":1,"c":2}]}`, `{"a":}`, `[1,]`, `tru`, `nul`, `"a`, `{"a":1}x`, `-`, `--1`, `[-0]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fast, err := canonicalFast(in)
		if err != nil {
			return
		}
		slow, serr := canonicalSlow(in)
		if serr != nil {
			t.Fatalf("fast accepted %q (%s); general: %v", in, fast, serr)
		}
		if string(fast) != string(slow) {
			t.Fatalf("%q: fast %s, general %s", in, fast, slow)
		}
		if !json.Valid(in) {
			t.Fatalf("fast accepted invalid JSON %q", in)
		}
	})
}

// TestCanonicalFastMatchesGeneral compares the two canonicalizers on
// random JSON values of every kind the fast path takes or refuses:
// names out of order, nesting, spacing, escapes, non-ASCII, numbers of
// every form.
func TestCanonicalFastMatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	atoms := []string{`0`, `-0`, `7`, `-42`, `123456789012345`, `1234567890123456`, `1.50`, `1e3`, `-2E-7`, `true`, `false`,
		`null`, `"x"`, `"caf\u00e9"`, `"é"`, `"tab\t"`, `"a\"b"`, `"2026-01-01T00:00:00.000Z"`, `""`}
	names := []string{`"a"`, `"b"`, `"B"`, `"referral_code"`, `"é"`, `"\u0041"`, `"a"`, `"a!"`, `"a "`, `"ab"`}
	sp := func() string { return []string{"", " ", "\n\t", "  "}[r.IntN(4)] }
	var gen func(depth int) string
	gen = func(depth int) string {
		switch k := r.IntN(4); {
		case depth > 3 || k == 0:
			return atoms[r.IntN(len(atoms))]
		case k == 1:
			var parts []string
			for range r.IntN(4) {
				parts = append(parts, sp()+gen(depth+1)+sp())
			}
			return "[" + strings.Join(parts, ",") + "]"
		default:
			var parts []string
			for range r.IntN(5) {
				parts = append(parts, sp()+names[r.IntN(len(names))]+sp()+":"+gen(depth+1))
			}
			return "{" + strings.Join(parts, ",") + sp() + "}"
		}
	}
	fastCount := 0
	for range 20000 {
		in := []byte(sp() + gen(0) + sp())
		slow, serr := canonicalSlow(in)
		fast, ferr := canonicalFast(in)
		if ferr != nil {
			continue
		}
		fastCount++
		if serr != nil || string(fast) != string(slow) {
			t.Fatalf("%s: fast %s, general %s (%v)", in, fast, slow, serr)
		}
	}
	if fastCount < 2000 {
		t.Errorf("only %d of 20000 values took the fast path", fastCount)
	}
}

// TestFastStrEveryByte puts each byte value at each place of strings of
// 0 to 24 plain bytes (so at each place in the eight-byte words str skips,
// and in the bytes after them) and holds str to what a byte-by-byte scan
// decides: where the string ends, or that it is not on the fast path.
func TestFastStrEveryByte(t *testing.T) {
	want := func(in []byte) int { // the index after the closing quote, or -1
		for i := 1; i < len(in); i++ {
			switch c := in[i]; {
			case c == '"':
				return i + 1
			case c == '\\' || c < 0x20 || c > 0x7e:
				return -1
			}
		}
		return -1
	}
	checked := 0
	for n := 0; n <= 24; n++ {
		for at := 0; at <= n; at++ {
			for c := range 256 {
				in := []byte(`"` + strings.Repeat("k", n) + `"tail`)
				in[1+at] = byte(c) // at == n: the closing quote itself
				p := fastParser{in: in}
				s, err := p.str()
				got := p.i
				if err != nil {
					got = -1
				} else if string(s) != string(in[:p.i]) {
					t.Fatalf("%q: str returned %q, not the input up to %d", in, s, p.i)
				}
				if w := want(in); got != w {
					t.Fatalf("%q: str ends at %d, a byte-by-byte scan at %d", in, got, w)
				}
				checked++
			}
		}
	}
	t.Logf("%d strings", checked)
}
