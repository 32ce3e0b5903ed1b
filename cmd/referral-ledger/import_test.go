package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// storeProfiles are the command-line flags of a fresh store per profile.
var storeProfiles = map[string]func(testing.TB) []string{
	"sqlite":   func(tb testing.TB) []string { return []string{"--data-dir", tb.TempDir()} },
	"postgres": func(tb testing.TB) []string { return []string{"--database-url", pgtest.SchemaURL(tb)} },
	"eventstoredb": func(tb testing.TB) []string {
		return []string{"--database-url", pgtest.SchemaURL(tb), "--eventstore-url", eventstoreURL(tb)}
	},
}

// seed runs commands on a store and returns the appspace they ran in.
func seed(t *testing.T, args []string) string {
	t.Helper()
	ctx := context.Background()
	m := openArgs(t, args)
	defer m.Close()
	as, err := m.access.CreateAppspace(ctx, "move-"+domain.NewID()[:8])
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		res, err := m.svc.CreateReferral(ctx, originFor(as.ID), createInput(user))
		if err != nil {
			t.Fatal(err)
		}
		if user != "carol" {
			_, err = m.svc.ReachMilestone(ctx, originFor(as.ID), res.Referral.ReferralCode,
				domain.MilestoneInput{Milestone: "signup", ReferredUserID: user + "-friend"})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return as.ID
}

// openArgs opens the stores that command-line flags name; opts adjust
// the rest of the configuration.
func openArgs(t *testing.T, args []string, opts ...func(*Config)) *Main {
	t.Helper()
	cfg := Config{}
	for _, o := range opts {
		o(&cfg)
	}
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--data-dir":
			cfg.DataDir = args[i+1]
		case "--database-url":
			cfg.DatabaseURL = args[i+1]
		case "--eventstore-url":
			cfg.EventstoreURL = args[i+1]
		}
	}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// withoutPositions drops each exported line's position, which belongs to
// the store rather than to the event (each store numbers its own log), and
// keeps every other byte of the line as exported, recorded_at included.
func withoutPositions(t *testing.T, export string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(export), "\n") {
		rest, ok := strings.CutPrefix(line, `{"position":`)
		_, after, found := strings.Cut(rest, ",")
		if !ok || !found {
			t.Fatalf("an exported line that does not start with its position: %s", line)
		}
		out = append(out, after)
	}
	return out
}

// sealedTree seals the appspace's audit tree on the stores that args name
// as serve does (the sealer projection catches up with the log, the notary
// checks the tree against the stored events and signs a checkpoint) and
// returns the tree of that signed checkpoint: its size and root hash.
func sealedTree(t *testing.T, args []string, appspace string) tlog.Tree {
	t.Helper()
	ctx := context.Background()
	m := openArgs(t, args, func(c *Config) { c.Audit.SigningKey = testSigningKey })
	defer m.Close()
	l, err := m.openAudit()
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := l.runner.Step(ctx)
		if err != nil {
			t.Fatalf("sealer: %v", err)
		}
		if n == 0 {
			break
		}
	}
	if err := l.notary.SignAll(ctx); err != nil {
		t.Fatalf("notary: %v", err)
	}
	msg, _, err := l.prover.Checkpoint(ctx, appspace)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	tree, err := audit.OpenCheckpoint(msg, testVerifierKey, audit.Origin(appspace))
	if err != nil {
		t.Fatalf("checkpoint %q: %v", msg, err)
	}
	return tree
}

// referrals rebuilds the referrals projection and lists the appspace's.
func referrals(t *testing.T, args []string, appspace string) []domain.ReferralView {
	t.Helper()
	mustRun(t, args, "projections", "rebuild")
	m := openArgs(t, args)
	defer m.Close()
	page, err := m.readModels.List(context.Background(), projections.ListFilter{AppspaceID: appspace, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Referrals
}

// TestMoveBetweenProfiles moves one log along SQLite -> PostgreSQL ->
// EventStoreDB -> SQLite -> EventStoreDB -> PostgreSQL -> SQLite, which
// takes every ordered pair of profiles once: each export equals the
// first (but for positions), each target's rebuilt projection equals the
// source's, and so does each target's audit tree: the sealer, run on the
// target's own log, signs the same size and root hash as on the source
// (leaves hold no positions: docs/decisions.md, "The audit log's leaf
// encoding").
func TestMoveBetweenProfiles(t *testing.T) {
	t.Parallel()
	chain := []string{"sqlite", "postgres", "eventstoredb", "sqlite", "eventstoredb", "postgres", "sqlite"}
	src := storeProfiles[chain[0]](t)
	appspace := seed(t, src)
	first := mustRun(t, src, "events", "export")
	want := withoutPositions(t, first)
	wantRows := referrals(t, src, appspace)
	wantTree := sealedTree(t, src, appspace)
	if len(want) < 8 || len(wantRows) != 3 || wantTree.N < 8 {
		t.Fatalf("seeded %d events and %d referrals, want more", len(want), len(wantRows))
	}
	export := first
	for i, name := range chain[1:] {
		t.Logf("%s -> %s", chain[i], name)
		file := filepath.Join(t.TempDir(), "events.jsonl")
		if err := os.WriteFile(file, []byte(export), 0o600); err != nil {
			t.Fatal(err)
		}
		dst := storeProfiles[name](t)
		t.Log(mustRun(t, dst, "events", "import", file))
		// PostgreSQL may hold an event back from reads a moment after its
		// append returned (an older transaction of another test is open).
		for range 100 {
			if export = mustRun(t, dst, "events", "export"); strings.Count(export, "\n") >= len(want) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if diff := cmp.Diff(withoutPositions(t, export), want); diff != "" {
			t.Fatalf("%s -> %s: export (-got +want):\n%s", chain[i], name, diff)
		}
		if diff := cmp.Diff(referrals(t, dst, appspace), wantRows); diff != "" {
			t.Errorf("%s -> %s: rebuilt referrals (-got +want):\n%s", chain[i], name, diff)
		}
		if got := sealedTree(t, dst, appspace); got != wantTree {
			t.Errorf("%s -> %s: audit tree: got size %d root %s, want size %d root %s",
				chain[i], name, got.N, got.Hash, wantTree.N, wantTree.Hash)
		}
	}
}
