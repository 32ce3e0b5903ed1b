package webhooks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// reviewDNS is a fake DNS server on 127.0.0.1 that answers A queries for
// every name with one address (names under "nowhere." do not exist), so a test can use a host name (TLS checks
// names) without sending a query anywhere else.
func reviewDNS(tb testing.TB, addr netip.Addr) *net.Resolver {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			i := 12
			for i < len(q) && q[i] != 0 {
				i += 1 + int(q[i])
			}
			if len(q) < 12 || i+5 > len(q) {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[i+1:])
			nx := q[12] == 7 && string(q[13:20]) == "nowhere" // nowhere.*: NXDOMAIN
			resp := append([]byte(nil), q[:2]...)
			flags := uint16(0x8580)
			if nx {
				flags |= 3
			}
			resp = binary.BigEndian.AppendUint16(resp, flags)
			resp = binary.BigEndian.AppendUint16(resp, 1)
			var count uint16
			if qtype == 1 && !nx {
				count = 1
			}
			resp = binary.BigEndian.AppendUint16(resp, count)
			resp = append(resp, 0, 0, 0, 0)
			resp = append(resp, q[12:i+5]...)
			if count == 1 {
				b := addr.As4()
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, b[:]...)
			}
			_, _ = conn.WriteTo(resp, from)
		}
	}()
	tb.Cleanup(func() { _ = conn.Close(); <-done })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", conn.LocalAddr().String())
	}}
}

// nulCertServer is a TLS receiver on loopback whose certificate names a
// host with a NUL byte in it: the client's hostname check fails, and Go's
// error message repeats the certificate's names verbatim.
func nulCertServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	return certServer(tb, []string{"evil\x00.example.com"})
}

// certServer is a TLS receiver on loopback whose certificate names names.
func certServer(tb testing.TB, names []string) *httptest.Server {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}

// TestReceiverErrorTextIsRecorded: a receiver controls part of the error
// text of a failed attempt (here the names of its TLS certificate, NUL
// byte included). The attempt must still be recorded: PostgreSQL refuses
// NUL in text, and an unrecordable attempt is never counted, so its
// delivery is attempted forever without opening the breaker, and every
// other endpoint's outcome in the same recorded batch is lost with it.
func TestReceiverErrorTextIsRecorded(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		cfg := webhooks.Config{Concurrency: 4}
		cfg.Guard.Resolver = reviewDNS(t, netip.MustParseAddr("127.0.0.1"))
		s := newStack(t, kind, cfg)
		srv := nulCertServer(t)
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		evil := s.addIn(t, s.appspaceID, "https://hooks.evil.example.com:"+port+"/in", webhooks.Limits{},
			webhooks.EventReferralCreated)

		// The test send records its attempt.
		res, err := s.wh.Test(context.Background(), s.appspaceID, evil.ID)
		if err != nil {
			t.Errorf("test send to a receiver with a hostile certificate: %v", err)
		} else if res.Success || res.Error == nil || strings.ContainsRune(*res.Error, 0) {
			t.Errorf("test send: success %v, error %q; want a failure without NUL", res.Success, deref(res.Error))
		}

		// A certificate with many long names makes an error text of
		// about 180 KiB; the log keeps a bounded part of it.
		long := make([]string, 90)
		for i := range long {
			long[i] = strings.Repeat("a", 2000)
		}
		_, port2, _ := net.SplitHostPort(certServer(t, long).Listener.Addr().String())
		big := s.addIn(t, s.appspaceID, "https://hooks.evil.example.com:"+port2+"/in", webhooks.Limits{},
			webhooks.EventReferralCreated)
		if res, err := s.wh.Test(context.Background(), s.appspaceID, big.ID); err != nil {
			t.Errorf("test send to a receiver with a huge certificate: %v", err)
		} else if res.Error == nil || len(*res.Error) > 4<<10 {
			t.Errorf("test send: error of %d bytes, want a failure with at most 4 KiB of error", len(deref(res.Error)))
		}
		var longest int
		if err := s.db.Get(&longest, `SELECT coalesce(max(length(error)), 0) FROM webhook_attempts`); err != nil {
			t.Fatal(err)
		}
		if longest > 4<<10 {
			t.Errorf("the delivery log holds an error of %d characters, want at most 4 KiB", longest)
		}
		if err := s.wh.Delete(context.Background(), s.appspaceID, big.ID); err != nil {
			t.Fatal(err)
		}

		// The worker records the attempt, and a healthy endpoint of
		// another appspace gets its delivery recorded beside it.
		other := domain.NewPrefixedID("as")
		good := newReceiver(t, nil)
		goodWh := s.addIn(t, other, good.url, webhooks.Limits{}, webhooks.EventReferralCreated)
		s.createIn(t, s.appspaceID, 1)
		s.createIn(t, other, 1)
		eventually(t, "the hostile endpoint's first attempt recorded", 2*time.Second, func() bool {
			return s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND attempt_count > 0
				AND event_type <> 'test'`, evil.ID) == 1
		})
		eventually(t, "the healthy endpoint's delivery recorded as succeeded", 2*time.Second, func() bool {
			return s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = 'succeeded'`,
				goodWh.ID) == 1
		})
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestSlowEndpointAtHighCapDoesNotTakeEverySender: an endpoint's owner
// may set max_in_flight up to 64, above the worker's senders (32 by
// default, 4 here). A slow endpoint with such a cap and a backlog must
// still leave senders, and room among the claimed deliveries, for the
// other endpoints: a fresh event for another appspace's endpoint is
// delivered while the slow one's requests are still held open.
func TestSlowEndpointAtHighCapDoesNotTakeEverySender(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{Concurrency: 4})
		fresh := make(chan struct{})
		var once sync.Once
		fast := newReceiver(t, func(int) int { once.Do(func() { close(fresh) }); return http.StatusOK })
		var gaveUp atomic.Int64
		slow := newReceiver(t, func(int) int {
			select {
			case <-fresh:
			case <-time.After(1500 * time.Millisecond): // below the 2 s timeout: a slow success
				gaveUp.Add(1)
			}
			return http.StatusOK
		})
		slowWh := s.addIn(t, s.appspaceID, slow.url, webhooks.Limits{MaxInFlight: ptr(64)}, webhooks.EventReferralCompleted)
		other := domain.NewPrefixedID("as")
		s.addIn(t, other, fast.url, webhooks.Limits{}, webhooks.EventReferralCreated)
		s.seedBacklog(t, slowWh.ID, "s", 200)
		eventually(t, "the slow endpoint's backlog is being sent", 2*time.Second, func() bool { return len(slow.requests()) > 0 })
		s.createIn(t, other, 1)
		eventually(t, "the fresh event delivered", 2500*time.Millisecond, func() bool { return len(fast.requests()) == 1 })
		if got := gaveUp.Load(); got > 0 {
			t.Errorf("%d slow requests ended before the fresh event arrived: it waited for the slow endpoint", got)
		}
	})
}

// TestAttemptErrorHidesOurNetwork: the delivery log is shown to the
// webhook's owner. A failed lookup must not name the ledger's DNS server,
// and a connection error must not name the ledger's own address and port
// (Go's errors do: "lookup x on 10.0.0.2:53: ...", "read tcp
// 10.0.0.5:41234->...: connection reset by peer").
func TestAttemptErrorHidesOurNetwork(t *testing.T) {
	s := newStack(t, "sqlite", webhooks.Config{Guard: ssrf.Guard{Resolver: reviewDNS(t, netip.MustParseAddr("127.0.0.1"))}})
	// A receiver that reads the request and resets the connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	addrPort := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+|\[[0-9a-f:]+\]:\d+`)
	for _, url := range []string{"http://nowhere.example.com/in", "http://hooks.example.com:" + port + "/in"} {
		wh := s.addIn(t, s.appspaceID, url, webhooks.Limits{}, webhooks.EventReferralCreated)
		res, err := s.wh.Test(context.Background(), s.appspaceID, wh.ID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Success || res.Error == nil {
			t.Fatalf("test send to %s: %+v, want a failure", url, res)
		}
		if got := addrPort.FindString(*res.Error); got != "" {
			t.Errorf("test send to %s: error %q names the address %s", url, *res.Error, got)
		}
	}
}

// TestTwoOutcomesOfOneAttemptInABatch: a delivery whose lease ended while
// its outcome waited to be recorded (the clock jumped, or recording
// stalled) is claimed and attempted again with the same attempt number,
// and both outcomes can land in one recorded batch. One is recorded, the
// other loses, as when another replica recorded first. On PostgreSQL both
// counted as won and the second insert of the attempt failed the whole
// batch, five times, with every other delivery's outcome in it: the
// breaker never saw the failures (TestAutoDisable's rare timeout).
func TestTwoOutcomesOfOneAttemptInABatch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		wh := s.addIn(t, s.appspaceID, newReceiver(t, nil).url, webhooks.Limits{}, webhooks.EventReferralCompleted)
		// Not due for an hour: the worker leaves it alone.
		due := time.Now().Add(time.Hour).UnixMilli()
		if _, err := s.db.Exec(s.db.Rebind(`INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id, event_type,
			body, state, attempt_count, schedule_from, max_attempts, next_attempt_at, created_at, updated_at)
			VALUES ('dlv_twice', ?, ?, 'evt_twice', 'referral.completed', '{}', 'pending', 0, 0, 4, ?, 0, 0)`),
			s.appspaceID, wh.ID, due); err != nil {
			t.Fatal(err)
		}
		won, err := s.wh.RecordSameAttemptTwice(context.Background(), "dlv_twice", wh.ID, 0)
		if err != nil || won != 1 {
			t.Fatalf("recorded %d of two outcomes of one attempt, err %v; want 1, nil", won, err)
		}
		if n := s.count(t, `SELECT count(*) FROM webhook_attempts WHERE delivery_id = 'dlv_twice'`); n != 1 {
			t.Errorf("%d attempts recorded, want 1", n)
		}
		if n := s.count(t, `SELECT attempt_count FROM webhook_deliveries WHERE id = 'dlv_twice'`); n != 1 {
			t.Errorf("attempt_count %d, want 1", n)
		}
	})
}
