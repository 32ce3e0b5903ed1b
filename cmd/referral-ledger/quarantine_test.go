package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// A poison event in the log: serve keeps projecting the others, /readyz
// stays 200 and says the projections are degraded, the metric counts it,
// status lists it and retry-quarantined keeps it while it still fails.
func TestQuarantinedEventDegradesReadiness(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()}
			store := []string{"--data-dir", cfg.DataDir}
			if kind == "postgres" {
				cfg.DatabaseURL = pgtest.SchemaURL(t)
				cfg.Webhooks.SecretKey = strings.TrimPrefix(testSecretKeyEnv, "LEDGER_WEBHOOK_SECRET_KEY=")
				cfg.Audit.SigningKey = testSigningKey
				store = []string{"--database-url", cfg.DatabaseURL}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			as, err := m.access.CreateAppspace(ctx, "default")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.svc.CreateReferral(ctx, originFor(as.ID), createInput("pat")); err != nil {
				t.Fatal(err)
			}
			poisonID := domain.NewID()
			if _, err := m.store.Append(ctx, domain.ReferralStream(as.ID, "POISON"), domain.NoStream(), domain.EventData{
				ID: poisonID, Type: domain.TypeReferralCreated, Data: []byte(`{"referral_code": 1}`), Metadata: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			good, err := m.svc.CreateReferral(ctx, originFor(as.ID), createInput("sam"))
			if err != nil {
				t.Fatal(err)
			}
			addr, err := m.Listen()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			base := "http://" + addr.String()
			for deadline := time.Now().Add(20 * time.Second); ; {
				counts, err := projections.QuarantineCounts(ctx, m.write)
				if err == nil && counts[projections.ReferralsName] == 1 && counts[forwarderName] == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not quarantined: %v, %v", counts, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// The event after the poison is in the read model.
			page, err := m.readModels.List(ctx, projections.ListFilter{AppspaceID: as.ID, Limit: 10})
			if err != nil || len(page.Referrals) != 2 {
				t.Errorf("list: %d referrals, %v; want 2 (with %s)", len(page.Referrals), err, good.Referral.ReferralCode)
			}
			status, body := getText(t, base+"/readyz")
			var ready struct {
				Ready  bool              `json:"ready"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal([]byte(body), &ready); err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK || !ready.Ready || ready.Checks["projections"] != "degraded: 2 quarantined events" {
				t.Errorf("readyz: %d %s, want 200 and projections degraded: 2 quarantined events", status, body)
			}
			if _, metrics := getText(t, base+"/metrics"); !strings.Contains(metrics, `ledger_projection_quarantined_events{projection="referrals"} 1`) {
				t.Errorf("metrics lack the quarantined referrals event")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			if out := mustRun(t, store, "projections", "status"); !strings.Contains(out, poisonID) {
				t.Errorf("status does not list the poison %s:\n%s", poisonID, out)
			}
			out := mustRun(t, store, "projections", "retry-quarantined", "referrals")
			if !strings.Contains(out, "referrals: 0 applied, 1 still failing") {
				t.Errorf("retry-quarantined printed %q", out)
			}
			if _, err := cliRun(t, store, "projections", "retry-quarantined", "nope"); err == nil {
				t.Error("retrying an unknown projection succeeded")
			}
		})
	}
}

func getText(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
