package audit

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/mod/sumdb/tlog"
)

// rebuildOf adds leaves one by one, the general way.
func rebuildOf(t *testing.T, leaves []Leaf, prefix string, n int) *Rebuild {
	t.Helper()
	r := &Rebuild{}
	for _, l := range leaves {
		if r.Size() == int64(n) {
			break
		}
		if strings.HasPrefix(l.Stream, prefix) {
			if err := r.Add(l); err != nil {
				t.Fatal(err)
			}
		}
	}
	return r
}

// TestAddLinesMatchesAdd: the lines decoded and hashed in parallel blocks
// give the tree, and the names, that adding the leaves in order gives.
func TestAddLinesMatchesAdd(t *testing.T) {
	lines, leaves := eventLines(6000) // about 2.5 MB: several blocks
	for _, tt := range []struct {
		name   string
		prefix string
		n      int
	}{
		{"every appspace", "", 1 << 30},
		{"appspace a", "as_a:", 1 << 30},
		{"appspace b, first 1500", "as_b:", 1500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := rebuildOf(t, leaves, tt.prefix, tt.n)
			var got Rebuild
			calls := 0
			// One byte a read at first: blocks cut anywhere.
			in := iotest.HalfReader(bytes.NewReader(lines))
			if err := got.AddLines(in, tt.prefix, int64(tt.n), func() { calls++ }); err != nil {
				t.Fatal(err)
			}
			if got.Size() != want.Size() {
				t.Fatalf("%d leaves, want %d", got.Size(), want.Size())
			}
			gotRoot, err := tlog.TreeHash(got.Size(), &got)
			if err != nil {
				t.Fatal(err)
			}
			wantRoot, _ := tlog.TreeHash(want.Size(), want)
			if gotRoot != wantRoot {
				t.Errorf("root %s, want %s", gotRoot, wantRoot)
			}
			for i := range want.Size() {
				if h := tlog.StoredHashIndex(0, i); got.hashes[h] != want.hashes[h] {
					t.Fatalf("leaf %d's hash differs", i)
				}
			}
			if calls == 0 {
				t.Error("progress was never called")
			}
		})
	}
}

// TestAddLinesErrors: a line that is not an event stops the rebuild with
// its number, unless the rebuild had its n leaves before it; a stream's
// error line is the server's error; a line longer than a block is read.
func TestAddLinesErrors(t *testing.T) {
	lines, leaves := eventLines(2000)
	at := bytes.Index(lines, []byte(`"id":"ev_001500"`))
	at = bytes.LastIndexByte(lines[:at], '\n') + 1 // line 1501
	broken := append(append(append([]byte{}, lines[:at]...), "{not json\n"...), lines[at:]...)
	var r Rebuild
	if err := r.AddLines(bytes.NewReader(broken), "", 1<<30, nil); err == nil || !strings.Contains(err.Error(), "line 1501") {
		t.Errorf("broken line 1501: %v; want an error naming it", err)
	}
	r = Rebuild{}
	if err := r.AddLines(bytes.NewReader(broken), "", 1500, nil); err != nil || r.Size() != 1500 {
		t.Errorf("broken line after the 1500 leaves wanted: %v, %d leaves", err, r.Size())
	}
	withErr := append(append([]byte{}, lines[:at]...), `{"error":"internal error (request r1)","code":"internal"}`+"\n"...)
	r = Rebuild{}
	if err := r.AddLines(bytes.NewReader(withErr), "", 1<<30, nil); err == nil || !strings.Contains(err.Error(), "request r1") {
		t.Errorf("stream ending with an error line: %v; want the server's error", err)
	}
	long := leaves[0]
	long.Data = []byte(`{"pad":"` + strings.Repeat("x", 3*blockSize) + `"}`)
	line, _ := eventLine(long)
	r = Rebuild{}
	if err := r.AddLines(bytes.NewReader(append(line, lines...)), "", 1<<30, nil); err != nil || r.Size() != 2001 {
		t.Errorf("a line of 3 blocks first: %v, %d leaves; want 2001", err, r.Size())
	}
	if r.hashes[0] != long.Hash() {
		t.Error("the long line's leaf hash differs")
	}
}

// TestRebuildStoresAsTlog: the stored hashes Rebuild computes in place are
// tlog's, leaf after leaf, and its tree hash is tlog's for every size.
func TestRebuildStoresAsTlog(t *testing.T) {
	var r Rebuild
	var want []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = want[x]
		}
		return out, nil
	})
	for n := range int64(1100) {
		h := tlog.RecordHash([]byte{byte(n), byte(n >> 8), 'x'})
		hs, err := tlog.StoredHashesForRecordHash(n, h, reader)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
		r.add(h)
		if len(r.hashes) != len(want) || r.hashes[len(r.hashes)-1] != want[len(want)-1] {
			t.Fatalf("after leaf %d: %d stored hashes, want %d", n, len(r.hashes), len(want))
		}
		got, err := tlog.TreeHash(n+1, &r)
		if err != nil {
			t.Fatal(err)
		}
		if wantRoot, _ := tlog.TreeHash(n+1, reader); got != wantRoot {
			t.Fatalf("tree of %d leaves: root %v, want %v", n+1, got, wantRoot)
		}
	}
	for i := range want {
		if r.hashes[i] != want[i] {
			t.Fatalf("stored hash %d differs", i)
		}
	}
}
