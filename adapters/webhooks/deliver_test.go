package webhooks

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/ssrf/ssrftest"
)

// TestBlockedAttemptHidesTheAddress: the delivery log is shown to the
// webhook's owner, who must not learn which internal address a name of
// theirs resolved to; the server log keeps it for the operator.
func TestBlockedAttemptHidesTheAddress(t *testing.T) {
	t.Parallel()
	srv, conns := ssrftest.CountingServer(t, 200, "")
	var logs bytes.Buffer
	w := &core{log: slog.New(slog.NewTextHandler(&logs, nil)), now: time.Now}
	d := &deliverer{w: w, client: ssrf.Guard{}.Client(5 * time.Second)}
	res := d.attempt(context.Background(), srv.URL+"/hook", []string{SecretPrefix + "c2VjcmV0"}, "referral.created", "evt_1", []byte(`{}`))
	if res.Success || res.Err != "blocked by the address policy" {
		t.Errorf("attempt: success %v, error %q; want a failure \"blocked by the address policy\"", res.Success, res.Err)
	}
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Err, u.Hostname()) {
		t.Errorf("the delivery log's error %q names the address %s", res.Err, u.Hostname())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), u.Host) {
		t.Errorf("server log lacks a WARN naming %s:\n%s", u.Host, logs.String())
	}
	ssrftest.AssertConnections(t, srv, conns, 0)
}
