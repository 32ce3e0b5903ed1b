package main

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
)

// cliRun runs the binary's command line in-process and returns stdout.
func cliRun(tb testing.TB, storeArgs []string, args ...string) (string, error) {
	tb.Helper()
	var stdout, stderr strings.Builder
	err := run(context.Background(), append(append([]string{}, args...), storeArgs...), &stdout, &stderr)
	return stdout.String(), err
}

func mustRun(tb testing.TB, storeArgs []string, args ...string) string {
	tb.Helper()
	out, err := cliRun(tb, storeArgs, args...)
	if err != nil {
		tb.Fatalf("%v: %v", args, err)
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	for _, profile := range []struct {
		name string
		args func(testing.TB) []string
	}{
		{"sqlite", func(tb testing.TB) []string { return []string{"--data-dir", tb.TempDir()} }},
		{"postgres", func(tb testing.TB) []string { return []string{"--database-url", pgtest.SchemaURL(tb)} }},
	} {
		t.Run(profile.name, func(t *testing.T) {
			t.Parallel()
			store := profile.args(t)
			mustRun(t, store, "migrate")
			mustRun(t, store, "appspace", "create", "shop")
			if _, err := cliRun(t, store, "appspace", "create", "shop"); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second appspace named shop: got %v, want an 'already exists' error", err)
			}
			if out := mustRun(t, store, "appspace", "list"); !strings.Contains(out, "shop") {
				t.Errorf("appspace list lacks shop:\n%s", out)
			}
			key := lastLine(mustRun(t, store, "apikey", "create", "--appspace", "shop", "--role", "analyst", "--name", "bi"))
			if !strings.HasPrefix(key, "rlk_") || strings.ContainsAny(key, " \t") {
				t.Fatalf("apikey create's last line is %q, want the key alone", key)
			}
			list := mustRun(t, store, "apikey", "list", "--appspace", "shop")
			if strings.Contains(list, key) || strings.Contains(list, key[len(key)-20:]) {
				t.Error("apikey list shows the key's secret")
			}
			if !strings.Contains(list, "analyst") {
				t.Errorf("apikey list lacks the key:\n%s", list)
			}
			sc := bufio.NewScanner(strings.NewReader(list))
			sc.Scan() // header
			sc.Scan()
			id := strings.Fields(sc.Text())[0]
			mustRun(t, store, "apikey", "revoke", id)
			if list := mustRun(t, store, "apikey", "list"); strings.HasSuffix(strings.TrimSpace(strings.Split(list, "\n")[1]), " -") {
				t.Errorf("revoked key shows no revocation time:\n%s", list)
			}
			if _, err := cliRun(t, store, "apikey", "create", "--appspace", "nope", "--role", "server"); err == nil {
				t.Error("apikey create for a missing appspace succeeded")
			}
			if _, err := cliRun(t, store, "apikey", "create", "--appspace", "shop", "--role", "root"); err == nil {
				t.Error("apikey create with an unknown role succeeded")
			}
		})
	}
}

// TestEventsExport exports what a served API appended.
func TestEventsExport(t *testing.T) {
	t.Parallel()
	store := []string{"--data-dir", t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := Open(ctx, Config{Addr: "127.0.0.1:0", DataDir: store[1]})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	as, err := m.access.CreateAppspace(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	o := originFor(as.ID)
	if _, err := m.svc.CreateReferral(ctx, o, createInput("pat")); err != nil {
		t.Fatal(err)
	}
	cancel()
	out := mustRun(t, store, "events", "export", "--appspace", "default")
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Position uint64 `json:"position"`
			Type     string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != "ReferrerCodeIssued,ReferralCreated" {
		t.Errorf("exported types %v, want ReferrerCodeIssued,ReferralCreated", types)
	}

	// The read models can be rebuilt from the log, and say where they are.
	if out := mustRun(t, store, "projections", "rebuild"); !strings.Contains(out, "rebuilt referrals: 2 events") {
		t.Errorf("projections rebuild printed %q", out)
	}
	status := mustRun(t, store, "projections", "status")
	if !strings.Contains(status, "referrals") || !strings.Contains(status, "  2  ") {
		t.Errorf("projections status after the rebuild:\n%s", status)
	}
	if _, err := cliRun(t, store, "projections", "rebuild", "nope"); err == nil {
		t.Error("rebuilding an unknown projection succeeded")
	}
}
