package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// auditStack is serve, in process, with an auditor key.
type auditStack struct {
	m        *Main
	url, key string
	app      string
	events   []domain.RecordedEvent // the appspace's, in log order
	verifier string
	done     chan error // serve's end
	stop     func()     // stops serve and closes the stores (once)
}

func startAudited(t *testing.T, kind string) *auditStack {
	t.Helper()
	return startAuditedWith(t, auditedConfig(t, kind))
}

// auditedConfig is serve's configuration on a fresh store of kind
// (sqlite, postgres or eventstoredb), checkpoints every 20 ms.
func auditedConfig(t *testing.T, kind string) Config {
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Audit: AuditConfig{Interval: 20 * time.Millisecond}}
	if kind != "sqlite" {
		cfg.DatabaseURL = pgtest.SchemaURL(t)
		cfg.Webhooks.SecretKey = strings.TrimPrefix(testSecretKeyEnv, "LEDGER_WEBHOOK_SECRET_KEY=")
		cfg.Audit.SigningKey = testSigningKey
	}
	if kind == "eventstoredb" {
		cfg.EventstoreURL = eventstoreURL(t)
	}
	return cfg
}

// startAuditedWith runs serve with cfg on a fresh store, with four
// referrals (eight events) in appspace "shop", until the first checkpoint
// covers them.
func startAuditedWith(t *testing.T, cfg Config) *auditStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	as, err := m.access.CreateAppspace(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := m.access.CreateKey(ctx, as.ID, domain.RoleAuditor, "auditor")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := m.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	s := &auditStack{m: m, url: "http://" + addr.String(), key: key, app: as.ID, done: done}
	s.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
		m.Close()
	})
	t.Cleanup(s.stop)
	for _, u := range []string{"ana", "bo", "cy", "di"} {
		if _, err := m.svc.CreateReferral(ctx, originFor(as.ID), createInput(u)); err != nil {
			t.Fatal(err)
		}
	}
	// Two events a referral (its code's and its own); PostgreSQL may show
	// them a moment after the append.
	for len(s.events) < 8 {
		if s.events, err = m.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix(as.ID)}); err != nil {
			t.Fatal(err)
		}
	}
	s.waitCheckpoint(t, int64(len(s.events)))
	var k struct {
		VerifierKey string `json:"verifier_key"`
	}
	if err := json.Unmarshal([]byte(s.get(t, "/v1/api/audit/key")), &k); err != nil {
		t.Fatal(err)
	}
	s.verifier = k.VerifierKey
	return s
}

func (s *auditStack) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("X-API-Key", s.key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// checkpointSize is the tree size of the latest checkpoint (-1 if none).
func (s *auditStack) checkpointSize(t *testing.T) int64 {
	_, tree, err := audit.ParseCheckpoint(textOf([]byte(s.get(t, "/v1/api/audit/checkpoint"))))
	if err != nil {
		return -1
	}
	return tree.N
}

func (s *auditStack) waitCheckpoint(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.checkpointSize(t) < n; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-s.done:
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %d events; latest %d", n, s.checkpointSize(t))
		}
	}
}

func (s *auditStack) verify(t *testing.T, trusted string) (string, error) {
	t.Helper()
	return cliRun(t, nil, "audit", "verify", "--url", s.url, "--appspace", "shop", "--verifier-key", s.verifier,
		"--trusted", trusted, "--api-key", s.key)
}

// TestAuditVerifyDetectsTampering: an untouched ledger verifies; an
// event edited, deleted, inserted or moved in the store directly makes
// audit verify fail naming it, the notary stop signing and /readyz say
// "ledger": "tampered".
func TestAuditVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	tampers := []struct {
		name string
		// do tampers with the events and returns the id of the event
		// audit verify must name.
		do func(t *testing.T, db *sqlx.DB, evs []domain.RecordedEvent) string
	}{
		{"update data", func(t *testing.T, db *sqlx.DB, evs []domain.RecordedEvent) string {
			mustExec(t, db, `UPDATE events SET data = '{"referrer_id":"mallory"}' WHERE id = ?`, evs[3].ID)
			return evs[3].ID
		}},
		{"delete", func(t *testing.T, db *sqlx.DB, evs []domain.RecordedEvent) string {
			mustExec(t, db, `DELETE FROM events WHERE id = ?`, evs[2].ID)
			return evs[2].ID
		}},
		{"insert", func(t *testing.T, db *sqlx.DB, evs []domain.RecordedEvent) string {
			p := evs[4].Position
			copyOf := `SELECT stream, version + 1000, 'forged', type, data, metadata, recorded_at`
			if db.DriverName() == "postgres" {
				// The log is read in (transaction_id, position) order: a row
				// with an old transaction id lands in the middle.
				mustExec(t, db, `INSERT INTO events (stream, version, id, type, data, metadata, recorded_at, transaction_id) `+
					copyOf+`, transaction_id FROM events WHERE position = ?`, p)
			} else {
				mustExec(t, db, `UPDATE events SET position = position + 100000 WHERE position >= ?`, p)
				mustExec(t, db, `INSERT INTO events (position, stream, version, id, type, data, metadata, recorded_at) `+
					`SELECT ?, `+strings.TrimPrefix(copyOf, "SELECT ")+` FROM events WHERE position = ?`, p, p+100000)
			}
			return "forged" // named as the event the log has in a sealed one's place
		}},
		{"swap", func(t *testing.T, db *sqlx.DB, evs []domain.RecordedEvent) string {
			a, b := evs[1].Position, evs[5].Position
			set := "position = ?"
			if db.DriverName() == "postgres" {
				set += ", transaction_id = (SELECT transaction_id FROM events WHERE position = ?)"
			}
			args := func(to, from uint64) []any {
				if db.DriverName() == "postgres" {
					return []any{to, from}
				}
				return []any{to}
			}
			mustExec(t, db, `UPDATE events SET `+set+` WHERE position = ?`, append(args(0, b), a)...)
			mustExec(t, db, `UPDATE events SET `+set+` WHERE position = ?`, append(args(a, 0), b)...)
			mustExec(t, db, `UPDATE events SET `+set+` WHERE position = 0`, args(b, a)...)
			return evs[1].ID
		}},
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, tt := range tampers {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				s := startAudited(t, kind)
				trusted := filepath.Join(t.TempDir(), "trusted.checkpoint")
				if out, err := s.verify(t, trusted); err != nil || !strings.HasPrefix(out, "ok: ") {
					t.Fatalf("untouched ledger: %q, %v", out, err)
				}
				signed := s.checkpointSize(t)
				want := tt.do(t, s.m.write, s.events)
				_, err := s.verify(t, trusted)
				t.Logf("audit verify: %v", err)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("audit verify after tampering: %v; want an error naming event %s", err, want)
				}
				// A new event makes the notary check before it signs.
				if _, err := s.m.svc.CreateReferral(context.Background(), originFor(s.app), createInput("eve")); err != nil {
					t.Fatal(err)
				}
				waitReady(t, s.url, `"ledger":"tampered"`)
				if got := s.checkpointSize(t); got != signed {
					t.Errorf("checkpoint size after tampering %d, want %d (no new checkpoint)", got, signed)
				}
			})
		}
	}
}

func mustExec(t *testing.T, db *sqlx.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(db.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// waitReady waits until /readyz's body contains want.
func waitReady(t *testing.T, url, want string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); strings.Contains(body, want) {
			return
		}
	}
	t.Fatalf("/readyz says %s; want %s", body, want)
}

// TestAuditVerifyOffline checks an export against a saved checkpoint, and
// refuses a checkpoint signed by another key.
func TestAuditVerifyOffline(t *testing.T) {
	t.Parallel()
	s := startAudited(t, "sqlite")
	dir := t.TempDir()
	cp := filepath.Join(dir, "checkpoint")
	if err := os.WriteFile(cp, []byte(s.get(t, "/v1/api/audit/checkpoint")), 0o600); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "events.jsonl")
	out := mustRun(t, []string{"--data-dir", s.m.cfg.DataDir}, "events", "export")
	if err := os.WriteFile(export, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cliRun(t, nil, "audit", "verify", "--export", export, "--checkpoint", cp, "--verifier-key", s.verifier); err != nil {
		t.Fatalf("offline verify: %q, %v", out, err)
	}
	_, other, _ := audit.GenerateKey()
	if _, err := cliRun(t, nil, "audit", "verify", "--export", export, "--checkpoint", cp, "--verifier-key", other); err == nil {
		t.Error("a checkpoint verified with another key")
	}
	forged := strings.Replace(out, "ana", "mallory", 1)
	if err := os.WriteFile(export, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cliRun(t, nil, "audit", "verify", "--export", export, "--checkpoint", cp, "--verifier-key", s.verifier); err == nil {
		t.Error("an edited export verified")
	}
}
