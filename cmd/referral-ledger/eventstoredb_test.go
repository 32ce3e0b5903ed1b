package main

import (
	"context"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

func TestEventstoreProfileNeedsPostgres(t *testing.T) {
	t.Parallel()
	args := []string{"--data-dir", t.TempDir(), "--eventstore-url", "esdb://localhost:2113?tls=false"}
	if _, err := cliRun(t, args, "migrate"); err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("--eventstore-url without --database-url: got %v, want an error asking for postgres", err)
	}
}

// TestEventstoreProfile opens the production profile: the event log on the
// EventStoreDB server that LEDGER_TEST_EVENTSTORE_URL names (or an
// emulated one), the rest on PostgreSQL. A command's events reach the log, the read model and the
// export's prefix read.
func TestEventstoreProfile(t *testing.T) {
	t.Parallel()
	esURL := eventstoreURL(t)
	ctx := context.Background()
	m, err := Open(ctx, Config{DatabaseURL: pgtest.SchemaURL(t), EventstoreURL: esURL})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := m.ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	as, err := m.access.CreateAppspace(ctx, "esdb-"+domain.NewID())
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.svc.CreateReferral(ctx, originFor(as.ID), createInput("alice"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	evs, err := m.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix(as.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs), 2; got != want { // ReferrerCodeIssued, ReferralCreated
		t.Fatalf("the appspace's log: got %d events, want %d", got, want)
	}
	// The runner catches up with the whole log (a shared server may hold
	// other runs' events), then lists the referral.
	for {
		n, err := m.runner.Step(ctx)
		if err != nil {
			t.Fatalf("projection step: %v", err)
		}
		if n == 0 {
			break
		}
	}
	page, err := m.readModels.List(ctx, projections.ListFilter{AppspaceID: as.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Referrals) != 1 || page.Referrals[0].ReferralCode != res.Referral.ReferralCode {
		t.Errorf("read model: got %+v, want the referral %s", page.Referrals, res.Referral.ReferralCode)
	}
}
