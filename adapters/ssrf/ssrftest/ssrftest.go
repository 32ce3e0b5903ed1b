// Package ssrftest has the test servers that show whether a request was
// refused before it connected: the guard's own tests and the webhook
// sender's use them.
package ssrftest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// CountingServer starts a server on 127.0.0.1 that answers every request
// with status (and Location when given) and counts the connections it
// accepts.
func CountingServer(tb testing.TB, status int, location string) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if location != "" {
			w.Header().Set("Location", location)
		}
		w.WriteHeader(status)
	}))
	srv.Config.ConnState = CountNew(&conns)
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv, &conns
}

// CountNew is a ConnState hook that counts new connections in n.
func CountNew(n *atomic.Int64) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
}

// AssertConnections checks the server accepted want connections so far. It
// first makes one allowed request itself: the server accepts connections in
// order, so once that one is counted any earlier connection is counted too.
func AssertConnections(tb testing.TB, srv *httptest.Server, conns *atomic.Int64, want int64) {
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
