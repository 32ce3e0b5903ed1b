package audit_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

var kinds = []string{"sqlite", "postgres"}

// ledger is a store with a sealer, a notary and a prover.
type ledger struct {
	store  domain.EventStore
	write  *sqlx.DB
	runner *projections.Runner
	notary *audit.Notary
	prover *audit.Prover
	key    *audit.Key
	mu     sync.Mutex // guards now, the notaries' clock
	now    time.Time
}

func newLedger(t *testing.T, kind string) *ledger {
	t.Helper()
	store, write, read := storetest.Open(t, kind)
	skey, _, err := audit.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{store: store, write: write, key: key, prover: audit.NewProver(read, key)}
	l.now = time.Unix(1e9, 0)
	l.notary, l.runner = l.replica(t)
	return l
}

// replica returns another notary and sealer runner on the same database.
func (l *ledger) replica(t *testing.T) (*audit.Notary, *projections.Runner) {
	t.Helper()
	n, err := audit.NewNotary(audit.NotaryConfig{DB: l.write, Events: l.store, Key: l.key, Interval: time.Millisecond,
		Now: func() time.Time { l.mu.Lock(); defer l.mu.Unlock(); l.now = l.now.Add(time.Second); return l.now }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := projections.NewRunner(l.store, l.write, audit.NewSealer(nil), projections.RunnerConfig{Name: audit.SealerName,
		BatchSize: 7, Lookahead: true})
	if err != nil {
		t.Fatal(err)
	}
	return n, r
}

// appendEvents appends n events to app's streams and waits until the log
// shows them (PostgreSQL may hold them back a moment).
func (l *ledger) appendEvents(t *testing.T, app string, n int) {
	t.Helper()
	want := len(l.leaves(t, app)) + n
	defer func() {
		for len(l.leaves(t, app)) < want {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for i := range n {
		stream := domain.ReferralStream(app, fmt.Sprintf("CODE%06d", want+i))
		if _, err := l.store.Append(context.Background(), stream, domain.Any(), domain.EventData{ID: domain.NewID(),
			Type: "ReferralCreated", Data: fmt.Appendf(nil, `{"n": %d, "who": "p\u00e9"}`, i), Metadata: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
}

// seal seals everything and signs checkpoints.
func (l *ledger) seal(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for {
		n, err := l.runner.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := l.notary.SignAll(ctx); err != nil {
		t.Fatal(err)
	}
}

// leaves returns app's leaf bytes, from the log.
func (l *ledger) leaves(t *testing.T, app string) [][]byte {
	t.Helper()
	evs, err := l.store.ReadAll(context.Background(), domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix(app)})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = audit.LeafOf(e).Bytes()
	}
	return out
}

func (l *ledger) checkpoint(t *testing.T, app string) tlog.Tree {
	t.Helper()
	msg, _, err := l.prover.Checkpoint(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := audit.OpenCheckpoint(msg, l.key.VerifierKey(), audit.Origin(app))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// RFC 6962 section 2.1, written from the RFC's text (not from tlog).
func rfcLeaf(d []byte) [32]byte { return sha256.Sum256(append([]byte{0}, d...)) }
func rfcNode(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// rfcSplit is k, the largest power of two smaller than n (n > 1).
func rfcSplit(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// rfcMTH is MTH(D[n]).
func rfcMTH(d [][]byte) [32]byte {
	switch len(d) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return rfcLeaf(d[0])
	}
	k := rfcSplit(len(d))
	return rfcNode(rfcMTH(d[:k]), rfcMTH(d[k:]))
}

// rfcPath is PATH(m, D[n]), the audit path of leaf m.
func rfcPath(m int, d [][]byte) [][32]byte {
	if len(d) <= 1 {
		return nil
	}
	k := rfcSplit(len(d))
	if m < k {
		return append(rfcPath(m, d[:k]), rfcMTH(d[k:]))
	}
	return append(rfcPath(m-k, d[k:]), rfcMTH(d[:k]))
}

// rfcSubproof is SUBPROOF(m, D[n], b); PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
func rfcSubproof(m int, d [][]byte, b bool) [][32]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][32]byte{rfcMTH(d)}
	}
	k := rfcSplit(n)
	if m <= k {
		return append(rfcSubproof(m, d[:k], b), rfcMTH(d[k:]))
	}
	return append(rfcSubproof(m-k, d[k:], false), rfcMTH(d[:k]))
}

func hashesEqual(a []tlog.Hash, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProofsMatchRFC6962: checkpoints, inclusion and consistency proofs
// agree with tlog's checks and with RFC 6962's definitions, on both stores.
func TestProofsMatchRFC6962(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLedger(t, kind)
			l.appendEvents(t, "as_a", 13)
			l.appendEvents(t, "as_b", 3) // another appspace, another tree
			l.seal(t)
			first := l.checkpoint(t, "as_a")
			l.appendEvents(t, "as_a", 9)
			l.seal(t)
			tree := l.checkpoint(t, "as_a")
			d := l.leaves(t, "as_a")
			if tree.N != 22 || first.N != 13 || tree.Hash != rfcMTH(d) || first.Hash != rfcMTH(d[:13]) {
				t.Fatalf("checkpoints %d, %d; want 13, 22 with the RFC 6962 roots", first.N, tree.N)
			}
			if b := l.checkpoint(t, "as_b"); b.N != 3 || b.Hash != rfcMTH(l.leaves(t, "as_b")) {
				t.Errorf("appspace b's checkpoint %d, want its 3 events", b.N)
			}
			evs, _ := l.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix("as_a")})
			for _, size := range []int64{13, 22} {
				root := rfcMTH(d[:size])
				for m := range size {
					p, err := l.prover.Inclusion(ctx, "as_a", evs[m].ID, size)
					if err != nil {
						t.Fatal(err)
					}
					if p.LeafIndex != m || p.LeafHash != rfcLeaf(d[m]) {
						t.Fatalf("leaf %d: got index %d", m, p.LeafIndex)
					}
					if err := tlog.CheckRecord(p.Proof, size, root, m, p.LeafHash); err != nil {
						t.Errorf("tlog.CheckRecord(leaf %d, size %d): %v", m, size, err)
					}
					if !hashesEqual(p.Proof, rfcPath(int(m), d[:size])) {
						t.Errorf("inclusion proof of leaf %d in %d is not RFC 6962's PATH", m, size)
					}
				}
			}
			for from := int64(1); from <= 22; from++ {
				proof, err := l.prover.Consistency(ctx, "as_a", from, 22)
				if err != nil {
					t.Fatal(err)
				}
				if err := tlog.CheckTree(proof, 22, tree.Hash, from, rfcMTH(d[:from])); err != nil {
					t.Errorf("tlog.CheckTree(%d, 22): %v", from, err)
				}
				if !hashesEqual(proof, rfcSubproof(int(from), d, true)) {
					t.Errorf("consistency proof %d→22 is not RFC 6962's PROOF", from)
				}
			}
		})
	}
}
