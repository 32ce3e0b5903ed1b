package main

import (
	"context"
	"fmt"
	"log"
	"runtime"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// backlogOptions are the backlog part's flags.
type backlogOptions struct {
	n          int
	sealOnly   bool   // stop after sealing and the whole-tree check
	skipVerify bool   // skip audit verify
	profile    string // CPU profile of the sealing only, to profile+"."+store
}

// backlog fills n events, then measures sealing them against the hashing
// baseline, the whole-tree check, audit verify and inclusion proofs.
func backlog(ctx context.Context, st store, bins binaries, opts backlogOptions) {
	n := opts.n
	fmt.Printf("\n== %s: backlog of %d events\n", st.name, n)
	access := sqlstore.NewAccess(st.write, st.read)
	as, err := access.CreateAppspace(ctx, "bench")
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	benchkit.FillReferrals(ctx, st.write, as.ID, n)
	analyze(ctx, st)
	fmt.Printf("%-9s filled the log in %.1f s\n", st.name, time.Since(start).Seconds())

	b := baseline(ctx, st, as.ID)
	fmt.Printf("%-9s baseline (in memory, one core): SHA-256 of the leaf bytes plus tree hashing %.2f s = %.0f leaves/s (CPU %.2f s)\n",
		st.name, b.hash.Seconds(), float64(n)/b.hash.Seconds(), b.hashCPU.Seconds())
	fmt.Printf("%-9s   for reference: reading the log %.2f s, the leaves' JCS bytes %.2f s (%.0f bytes a leaf)\n",
		st.name, b.read.Seconds(), b.jcs.Seconds(), float64(b.bytes)/float64(n))

	key := newKey()
	start = time.Now()
	cpu0, pg0 := benchkit.Self(), benchkit.Postgres()
	stopProfile := func() {}
	if opts.profile != "" {
		stopProfile = benchkit.StartProfile(opts.profile + "." + st.name)
	}
	seal(ctx, st)
	stopProfile()
	sealTime := time.Since(start)
	sealCPU := benchkit.Self() - cpu0
	analyze(ctx, st)
	fmt.Printf("%-9s sealing the backlog: %.2f s = %.0f events/s, %.0f%% of the baseline (target ≥ 50%%); CPU: this process %.1f s (%.0f%% of the baseline's), postgres %.1f s\n",
		st.name, sealTime.Seconds(), float64(n)/sealTime.Seconds(), 100*b.hash.Seconds()/sealTime.Seconds(),
		sealCPU.Seconds(), 100*b.hashCPU.Seconds()/sealCPU.Seconds(), (benchkit.Postgres() - pg0).Seconds())

	notary, err := audit.NewNotary(audit.NotaryConfig{DB: st.write, Read: st.read, Events: st.events, Key: key, Interval: time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	// As serve's notary runs: the whole-tree check, then the first checkpoint.
	start = time.Now()
	if err := notary.CheckAll(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%-9s whole-tree check (start-up, audit check): %.2f s = %.0f events/s\n",
		st.name, time.Since(start).Seconds(), float64(n)/time.Since(start).Seconds())
	start = time.Now()
	if err := notary.SignAll(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%-9s first checkpoint signed (after that check) in %s\n", st.name, ms(time.Since(start)))
	if opts.sealOnly {
		return
	}

	srv := serveAPI(ctx, st, access, key, as.ID)
	defer srv.close()
	proofs(st.name, srv, b.sample)
	if !opts.skipVerify {
		verify(ctx, st, bins, srv, b, n)
	}
}

// base is the baseline's figures.
type base struct {
	read, jcs, hash time.Duration
	hashCPU         time.Duration // this process's CPU time while hashing
	bytes           int
	sample          []string // event ids, one every 997, for the proofs
}

// baseline times reading the events in batches and building their leaf
// bytes, then (the baseline) hashing all those bytes into the tree in
// memory: tlog.StoredHashes, which is SHA-256(0x00 ‖ leaf) and the
// interior nodes RFC 6962 stores. The hashing starts after a GC, with the
// stored hashes' slice allocated whole: growing it as it goes, and the
// garbage of the reads collected during it, took 3 to 6 times as long as
// the hashing itself here (a baseline that slow flatters every ratio).
// The leaves of a 1M-event log are about 400 MB in memory while it runs.
func baseline(ctx context.Context, st store, app string) base {
	var b base
	var leaves [][]byte
	var after domain.Position
	for {
		t0 := time.Now()
		evs, err := st.events.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: 5000, StreamPrefix: domain.StreamPrefix(app)})
		if len(evs) == 0 { // caught up (or ErrPastEnd)
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		t1 := time.Now()
		for _, e := range evs {
			l := audit.LeafOf(e).Bytes()
			b.bytes += len(l)
			if len(leaves)%997 == 0 {
				b.sample = append(b.sample, e.ID)
			}
			leaves = append(leaves, l)
		}
		b.read, b.jcs = b.read+t1.Sub(t0), b.jcs+time.Since(t1)
		after = evs[len(evs)-1].Position
	}
	mem := memHashes{hashes: make([]tlog.Hash, 0, 2*len(leaves)+64)}
	runtime.GC()
	t, cpu := time.Now(), benchkit.Self()
	for _, l := range leaves {
		hs, err := tlog.StoredHashes(mem.leaves, l, &mem)
		if err != nil {
			log.Fatal(err)
		}
		mem.add(hs)
	}
	b.hash, b.hashCPU = time.Since(t), benchkit.Self()-cpu
	return b
}

// memHashes is an in-memory tlog.HashReader of stored hashes.
type memHashes struct {
	hashes []tlog.Hash
	leaves int64
}

func (m *memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

// add appends the next leaf's stored hashes.
func (m *memHashes) add(hs []tlog.Hash) { m.hashes, m.leaves = append(m.hashes, hs...), m.leaves+1 }

// seal runs the sealer, as serve configures it, until it has caught up.
func seal(ctx context.Context, st store) {
	runner, err := projections.NewRunner(st.events, st.write, audit.NewSealer(st.read), audit.RunnerConfig(st.write, nil))
	if err != nil {
		log.Fatal(err)
	}
	for {
		n, err := runner.Step(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func newKey() *audit.Key {
	skey, _, err := audit.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	key, err := audit.ParseKey(skey)
	if err != nil {
		log.Fatal(err)
	}
	return key
}

// analyze does on PostgreSQL what autovacuum does after a million inserts
// (the test server runs without it): without statistics, the planner takes
// an appspace's million events or leaves for a few rows, and reads them
// by a bitmap scan of every later row and a sort.
func analyze(ctx context.Context, st store) {
	if st.name != "postgres" {
		return
	}
	if _, err := st.write.ExecContext(ctx, `ANALYZE`); err != nil {
		log.Fatal(err)
	}
}
