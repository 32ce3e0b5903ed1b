package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// referenceLeaf is the leaf bytes as the leaf encoding's text defines
// them, written plainly: the seven members in order, every string through
// writeString, data and metadata through Canonicalize (their text as a
// string when they are not JSON), the version through formatNumber.
func referenceLeaf(l Leaf) []byte {
	var buf bytes.Buffer
	str := func(name, s string) {
		buf.WriteString(`,"` + name + `":`)
		writeString(&buf, s)
	}
	raw := func(in []byte) {
		c, err := Canonicalize(in)
		if err != nil {
			writeString(&buf, string(in))
			return
		}
		buf.Write(c)
	}
	buf.WriteString(`{"data":`)
	raw(l.Data)
	str("id", l.ID)
	buf.WriteString(`,"metadata":`)
	raw(l.Metadata)
	str("recorded_at", l.RecordedAt)
	str("stream", l.Stream)
	str("type", l.Type)
	v, _ := formatNumber(json.Number(strconv.FormatUint(l.Version, 10)))
	buf.WriteString(`,"version":` + v + `}`)
	return buf.Bytes()
}

// TestLeafEncoderMatchesReference: the encoder the sealer uses (one
// buffer for many leaves, its parser's room reused) writes, for events of
// every kind the fast path takes or refuses, the bytes of the reference.
func TestLeafEncoderMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{`{"referral_code":"ABC","referrer_id":"u-1","expires_at":"2026-02-01T00:00:00Z"}`,
		`{"b":{"z":1,"a":[1,2,{"y":null,"x":true}]},"a":-7}`, ``, `  `, `null`, `{"a":1,"a":2}`, `not json`,
		`{"é":"caf\u00e9","tab":"a\tb"}`, `{"n":1.5e3,"m":12345678901234567}`, `[ 1 , {"k" : "v"} ]`, `{}`, `"x"`}
	strs := []string{"ref", "as_x:referral:B1", `a"b`, `back\slash`, "tab\there", "é", "ctl\x01", ""}
	versions := []uint64{1, 2, 1 << 53, 1<<53 + 1, 1<<63 + 12345, 18446744073709551615}
	var enc leafEncoder
	var buf []byte
	for range 5000 {
		e := domain.RecordedEvent{ID: strs[r.IntN(len(strs))], Stream: strs[r.IntN(len(strs))], Type: strs[r.IntN(len(strs))],
			Version: versions[r.IntN(len(versions))], Data: []byte(texts[r.IntN(len(texts))]),
			Metadata:   []byte(texts[r.IntN(len(texts))]),
			RecordedAt: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("x", 3600*r.IntN(5)))}
		start := len(buf)
		buf = enc.appendLeaf(buf, &e)
		want := referenceLeaf(LeafOf(e))
		if got := buf[start:]; !bytes.Equal(got, want) {
			t.Fatalf("event %+v:\n got %s\nwant %s", e, got, want)
		}
		if got := LeafOf(e).Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("Leaf.Bytes of %+v:\n got %s\nwant %s", e, got, want)
		}
	}
}

// BenchmarkLeafEncoder is the leaf bytes of a typical event.
func BenchmarkLeafEncoder(b *testing.B) {
	e := domain.RecordedEvent{ID: domain.NewID(), Stream: "as_abcdefghijklmnopqrst:referral:B000000001", Type: "ReferralCreated",
		Version: 1, RecordedAt: time.Now(), Metadata: []byte(`{"request_id":"bench"}`),
		Data: []byte(`{"referral_id":"0190f3a2-1111-7222-8333-444455556666","referral_code":"B000000001",` +
			`"referrer_id":"user-1","created_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-31T00:00:00Z"}`)}
	b.Run("encoder", func(b *testing.B) {
		var enc leafEncoder
		var buf []byte
		for b.Loop() {
			buf = enc.appendLeaf(buf[:0], &e)
		}
	})
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			_ = referenceLeaf(LeafOf(e))
		}
	})
}
