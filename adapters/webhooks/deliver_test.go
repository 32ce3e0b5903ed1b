package webhooks

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
)

// TestBlockedAttemptHidesTheAddress: the delivery log is shown to the
// webhook's owner, who must not learn which internal address a name of
// theirs resolved to; the server log keeps it for the operator.
func TestBlockedAttemptHidesTheAddress(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, 200, "")
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
	assertConnections(t, srv, conns, 0)
}

// countingServer starts a server on 127.0.0.1 that answers every request with
// status (and Location when given) and counts the connections it accepts.
func countingServer(tb testing.TB, status int, location string) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if location != "" {
			w.Header().Set("Location", location)
		}
		w.WriteHeader(status)
	}))
	srv.Config.ConnState = countNew(&conns)
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv, &conns
}

func countNew(n *atomic.Int64) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
}

// assertConnections checks the server accepted want connections so far. It
// first makes one allowed request itself: the server accepts connections in
// order, so once that one is counted any earlier connection is counted too.
func assertConnections(tb testing.TB, srv *httptest.Server, conns *atomic.Int64, want int64) {
	tb.Helper()
	resp, err := srv.Client().Get(srv.URL + "/probe")
	if err != nil {
		tb.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		tb.Fatal(err)
	}
	if got := conns.Load() - 1; got != want {
		tb.Errorf("server accepted %d connections before the probe, want %d", got, want)
	}
}
