package audit

import (
	"bytes"
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// Rebuild is an appspace's tree recomputed by a verifier from the events
// themselves, leaf by leaf in log order.
type Rebuild struct {
	hashes []tlog.Hash // tlog's stored hashes
	n      int64       // leaves
	// names holds the event id and stream of each leaf Add added, one
	// after the other, and named where they end: to name the event of a
	// leaf that differs. AddLines keeps none (a verifier reads the one
	// it needs again).
	names []byte
	named []leafRef
}

// leafRef is where a leaf's id and stream end in Rebuild.names, and its
// version.
type leafRef struct {
	idEnd, streamEnd int
	version          uint64
}

// Add appends the next event's leaf. (It cannot fail: the error is the
// signature callers have.)
func (r *Rebuild) Add(l Leaf) error {
	if int64(len(r.named)) == r.n {
		r.names = append(r.names, l.ID...)
		ref := leafRef{idEnd: len(r.names), version: l.Version}
		r.names = append(r.names, l.Stream...)
		ref.streamEnd = len(r.names)
		r.named = append(r.named, ref)
	}
	r.add(l.Hash())
	return nil
}

// add appends the next leaf, of hash h, and the stored hashes it
// completes: what tlog.StoredHashesForRecordHash(r.n, h, r) returns
// (TestRebuildStoresAsTlog), computed in place: tlog's allocates three
// slices a leaf, a million times for a million events, and the garbage
// collections they cost a verifier were a tenth of its time.
func (r *Rebuild) add(h tlog.Hash) {
	r.hashes = append(r.hashes, h)
	for i := range bits.TrailingZeros64(uint64(r.n + 1)) {
		h = tlog.NodeHash(r.hashes[tlog.StoredHashIndex(i, r.n>>uint(i)-1)], h)
		r.hashes = append(r.hashes, h)
	}
	r.n++
}

// leaf names leaf i's event (without type, time, data and metadata), if
// Add added it.
func (r *Rebuild) leaf(i int64) (Leaf, bool) {
	if i >= int64(len(r.named)) {
		return Leaf{}, false
	}
	start := 0
	if i > 0 {
		start = r.named[i-1].streamEnd
	}
	ref := r.named[i]
	return Leaf{ID: string(r.names[start:ref.idEnd]), Stream: string(r.names[ref.idEnd:ref.streamEnd]), Version: ref.version}, true
}

// Size is the number of leaves added.
func (r *Rebuild) Size() int64 { return r.n }

// ReadHashes implements tlog.HashReader.
func (r *Rebuild) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(r.hashes)) {
			return nil, fmt.Errorf("hash %d is not in the rebuilt tree", x)
		}
		out[i] = r.hashes[x]
	}
	return out, nil
}

// Mismatch is the first leaf where the events differ from a checkpoint's
// tree.
type Mismatch struct {
	LeafIndex int64
	// Sealed is the event the tree holds at LeafIndex, when known (from
	// an entry bundle); Now the event the log has there, when known (nil
	// if none).
	Sealed *Leaf
	Now    *Leaf
	What   string
}

func (m *Mismatch) Error() string {
	ev := m.Now
	if m.Sealed != nil {
		ev = m.Sealed
	}
	if ev == nil {
		return fmt.Sprintf("leaf %d: %s", m.LeafIndex, m.What)
	}
	return fmt.Sprintf("first event that differs: %s (stream %s, version %d), leaf %d: %s",
		ev.ID, ev.Stream, ev.Version, m.LeafIndex, m.What)
}

// Check compares the rebuilt tree with tree (from a verified checkpoint).
// When they differ and sealed (the server's leaf hashes, verified against
// tree, e.g. tlog.TileHashReader) is not nil, it finds the first leaf that
// differs; without it, it can only say that the root differs.
func (r *Rebuild) Check(tree tlog.Tree, sealed tlog.HashReader) error {
	if r.Size() >= tree.N {
		root, err := tlog.TreeHash(tree.N, r)
		if err != nil {
			return err
		}
		if root == tree.Hash {
			return nil
		}
	}
	if sealed == nil {
		if r.Size() < tree.N {
			return &Mismatch{LeafIndex: r.Size(), What: fmt.Sprintf("missing: the events hold %d leaves, the checkpoint %d", r.Size(), tree.N)}
		}
		return &Mismatch{LeafIndex: -1, What: fmt.Sprintf("the %d events do not hash to the checkpoint's root", tree.N)}
	}
	for start := int64(0); start < min(tree.N, r.Size()); start += 1 << TileHeight {
		end := min(start+1<<TileHeight, tree.N, r.Size())
		idx := make([]int64, 0, end-start)
		for i := start; i < end; i++ {
			idx = append(idx, tlog.StoredHashIndex(0, i))
		}
		theirs, err := sealed.ReadHashes(idx)
		if err != nil {
			return fmt.Errorf("read the sealed leaf hashes: %w", err)
		}
		for k, i := 0, start; i < end; k, i = k+1, i+1 {
			if r.hashes[idx[k]] != theirs[k] {
				m := &Mismatch{LeafIndex: i, What: "its leaf hash differs from the sealed one"}
				if now, ok := r.leaf(i); ok {
					m.Now = &now
				}
				return m
			}
		}
	}
	if r.Size() < tree.N {
		return &Mismatch{LeafIndex: r.Size(), What: fmt.Sprintf("missing from the log: the checkpoint holds %d events, the log %d", tree.N, r.Size())}
	}
	return fmt.Errorf("the root differs but no leaf does: the server's tiles disagree with its checkpoint")
}

// Explain completes m with the sealed leaf's bytes (from an entry bundle,
// checked against its sealed hash): which event was sealed there and what
// differs from the event the log has now.
func (m *Mismatch) Explain(sealedLeaf []byte, sealedHash tlog.Hash, now *Leaf) {
	if tlog.RecordHash(sealedLeaf) != sealedHash {
		return
	}
	l, err := ParseLeaf(sealedLeaf)
	if err != nil {
		return
	}
	m.Sealed = &l
	switch {
	case now == nil:
		m.What = "the sealed event is missing from the log"
	case now.ID != l.ID:
		m.What = fmt.Sprintf("the log has event %s (stream %s, version %d) in its place", now.ID, now.Stream, now.Version)
	case !bytes.Equal(now.Bytes(), sealedLeaf):
		m.What = "changed: " + Diff(l, *now)
	}
}

// Entries splits an entry bundle into its leaves.
func Entries(bundle []byte) ([][]byte, error) {
	var out [][]byte
	for len(bundle) > 0 {
		if len(bundle) < 2 {
			return nil, fmt.Errorf("truncated entry bundle")
		}
		n := int(bundle[0])<<8 | int(bundle[1])
		if len(bundle) < 2+n {
			return nil, fmt.Errorf("truncated entry bundle")
		}
		out = append(out, bundle[2:2+n])
		bundle = bundle[2+n:]
	}
	return out, nil
}
