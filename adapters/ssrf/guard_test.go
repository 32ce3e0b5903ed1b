package ssrf

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf/ssrftest"
)

// Fragments of CheckURL's messages, so each refusal is for the right reason
// (a broken fake DNS must not make "resolves to a private address" pass).
const (
	reasonAddress  = "loopback, private"
	reasonScheme   = "must use https"
	reasonUser     = "user name or password"
	reasonInternal = "internal host name"
	reasonFQDN     = "fully qualified"
	reasonIPv4     = "invalid IPv4"
	reasonIPv6     = "invalid IPv6"
	reasonName     = "invalid host name"
	reasonResolve  = "does not resolve"
	reasonAbsolute = "absolute URL"
	reasonPort     = "invalid port"
	reasonDotted   = "dotted-decimal"
)

var testRecords = map[string][]string{
	"public.example.com":            {"93.184.216.34"},
	"v6public.example.com":          {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
	"private.example.com":           {"10.0.0.5"},
	"metadata.example.net":          {"169.254.169.254"},
	"mixed.example.com":             {"93.184.216.34", "192.168.0.10"},
	"v6private.example.com":         {"93.184.216.34", "fd00::5"},
	"mapped.example.com":            {"::ffff:127.0.0.1"},
	"127.0.0.1.nip.example.com":     {"127.0.0.1"},
	"nat64-private.example.com":     {"64:ff9b::a00:1"},
	"sixtofour-private.example.org": {"2002:c0a8:1::1"},
}

func TestCheckURLRefusesHostileTargets(t *testing.T) {
	t.Parallel()
	g := Guard{Resolver: newFakeDNS(t, testRecords).resolver()}
	tests := []struct {
		name, url, reason string
	}{
		{name: "loopback v4", url: "https://127.0.0.1/", reason: reasonAddress},
		{name: "loopback v4 elsewhere in 127/8", url: "https://127.255.0.9:8443/hook", reason: reasonAddress},
		{name: "loopback v6", url: "https://[::1]/", reason: reasonAddress},
		{name: "loopback v6 long form", url: "https://[0:0:0:0:0:0:0:1]/", reason: reasonAddress},
		{name: "10/8", url: "https://10.0.0.1/", reason: reasonAddress},
		{name: "172.16/12 low", url: "https://172.16.0.1/", reason: reasonAddress},
		{name: "172.16/12 high", url: "https://172.31.255.254/", reason: reasonAddress},
		{name: "192.168/16", url: "https://192.168.1.1/", reason: reasonAddress},
		{name: "cloud metadata", url: "https://169.254.169.254/latest/meta-data/", reason: reasonAddress},
		{name: "link-local v4", url: "https://169.254.1.1/", reason: reasonAddress},
		{name: "CGNAT", url: "https://100.64.0.1/", reason: reasonAddress},
		{name: "CGNAT high", url: "https://100.127.255.254/", reason: reasonAddress},
		{name: "unspecified v4", url: "https://0.0.0.0/", reason: reasonAddress},
		{name: "this network 0/8", url: "https://0.1.2.3/", reason: reasonAddress},
		{name: "unspecified v6", url: "https://[::]/", reason: reasonAddress},
		{name: "unique-local fd00::/8", url: "https://[fd00::1]/", reason: reasonAddress},
		{name: "unique-local fc00::/8", url: "https://[fc00::1]/", reason: reasonAddress},
		{name: "link-local v6", url: "https://[fe80::1]/", reason: reasonAddress},
		{name: "link-local v6 with zone", url: "https://[fe80::1%25eth0]/", reason: reasonIPv6},
		{name: "site-local v6", url: "https://[fec0::1]/", reason: reasonAddress},
		{name: "multicast v6", url: "https://[ff02::1]/", reason: reasonAddress},
		{name: "multicast v4", url: "https://224.0.0.1/", reason: reasonAddress},
		{name: "broadcast", url: "https://255.255.255.255/", reason: reasonAddress},
		{name: "reserved 240/4", url: "https://240.0.0.1/", reason: reasonAddress},
		{name: "benchmarking 198.18/15", url: "https://198.19.0.1/", reason: reasonAddress},
		{name: "documentation 192.0.2/24", url: "https://192.0.2.1/", reason: reasonAddress},
		{name: "IPv4-mapped dotted", url: "https://[::ffff:127.0.0.1]/", reason: reasonAddress},
		{name: "IPv4-mapped hex", url: "https://[::ffff:7f00:1]/", reason: reasonAddress},
		{name: "IPv4-mapped metadata", url: "https://[::ffff:a9fe:a9fe]/", reason: reasonAddress},
		{name: "IPv4-mapped private with port", url: "https://[::ffff:192.168.0.1]:8443/", reason: reasonAddress},
		{name: "IPv4-compatible", url: "https://[::127.0.0.1]/", reason: reasonAddress},
		{name: "NAT64 loopback", url: "https://[64:ff9b::7f00:1]/", reason: reasonAddress},
		{name: "NAT64 private", url: "https://[64:ff9b::10.0.0.1]/", reason: reasonAddress},
		{name: "local-use NAT64 private", url: "https://[64:ff9b:1::a00:1]/", reason: reasonAddress},
		{name: "local-use NAT64 unknown layout", url: "https://[64:ff9b:1:5db8:d8:2200::]/", reason: reasonAddress},
		{name: "6to4 of loopback", url: "https://[2002:7f00:1::]/", reason: reasonAddress},
		{name: "Teredo", url: "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", reason: reasonAddress},
		{name: "decimal", url: "https://2130706433/", reason: reasonAddress},
		{name: "decimal metadata", url: "https://2852039166/", reason: reasonAddress},
		{name: "octal", url: "https://0177.0.0.1/", reason: reasonAddress},
		{name: "octal whole", url: "https://017700000001/", reason: reasonAddress},
		{name: "octal private", url: "https://0300.0250.0.1/", reason: reasonAddress},
		{name: "hex dotted", url: "https://0x7f.0.0.1/", reason: reasonAddress},
		{name: "hex whole", url: "https://0x7F000001/", reason: reasonAddress},
		{name: "hex metadata", url: "https://0xa9.0xfe.0xa9.0xfe/", reason: reasonAddress},
		{name: "short form", url: "https://127.1/", reason: reasonAddress},
		{name: "short form three parts", url: "https://10.1.1/", reason: reasonAddress},
		{name: "zero", url: "https://0/", reason: reasonAddress},
		{name: "trailing dot IPv4", url: "https://127.0.0.1./", reason: reasonAddress},
		{name: "trailing dot hex", url: "https://0x7f.1./", reason: reasonAddress},
		{name: "five parts", url: "https://1.2.3.4.5/", reason: reasonIPv4},
		{name: "part over 255", url: "https://256.0.0.1/", reason: reasonIPv4},
		{name: "bad octal digit", url: "https://08.0.0.1/", reason: reasonIPv4},
		{name: "huge hex", url: "https://0x1000000000000000000/", reason: reasonIPv4},
		{name: "fullwidth dots", url: "https://127。0。0。1/", reason: reasonName},
		{name: "empty label", url: "https://public..example.com/", reason: reasonName},
		{name: "localhost", url: "https://localhost/", reason: reasonInternal},
		{name: "localhost upper case with port", url: "https://LOCALHOST:8443/", reason: reasonInternal},
		{name: "localhost trailing dot", url: "https://localhost./", reason: reasonInternal},
		{name: "subdomain of localhost", url: "https://foo.localhost/", reason: reasonInternal},
		{name: "single label", url: "https://printer/", reason: reasonFQDN},
		{name: "single label trailing dot", url: "https://printer./", reason: reasonFQDN},
		{name: ".internal", url: "https://db.internal/", reason: reasonInternal},
		{name: "GCP metadata name", url: "https://metadata.google.internal/computeMetadata/v1/", reason: reasonInternal},
		{name: ".local", url: "https://printer.local/", reason: reasonInternal},
		{name: ".lan", url: "https://nas.lan/", reason: reasonInternal},
		{name: ".home.arpa", url: "https://router.home.arpa/", reason: reasonInternal},
		{name: "reverse zone", url: "https://1.0.0.127.in-addr.arpa/", reason: reasonInternal},
		{name: ".corp", url: "https://files.corp/", reason: reasonInternal},
		{name: "name resolving to private", url: "https://private.example.com/", reason: reasonAddress},
		{name: "name resolving to private, trailing dot", url: "https://private.example.com./", reason: reasonAddress},
		{name: "name resolving to metadata", url: "https://metadata.example.net/", reason: reasonAddress},
		{name: "name resolving to public and private", url: "https://mixed.example.com/", reason: reasonAddress},
		{name: "name with unique-local AAAA", url: "https://v6private.example.com/", reason: reasonAddress},
		{name: "name with mapped loopback AAAA", url: "https://mapped.example.com/", reason: reasonAddress},
		{name: "name with NAT64 private AAAA", url: "https://nat64-private.example.com/", reason: reasonAddress},
		{name: "name with 6to4 private AAAA", url: "https://sixtofour-private.example.org/", reason: reasonAddress},
		{name: "wildcard DNS name for loopback", url: "https://127.0.0.1.nip.example.com/", reason: reasonAddress},
		{name: "name that does not resolve", url: "https://nowhere.example.com/", reason: reasonResolve},
		{name: "http", url: "http://93.184.216.34/", reason: reasonScheme},
		{name: "http to a public name", url: "http://public.example.com/", reason: reasonScheme},
		{name: "ftp", url: "ftp://93.184.216.34/", reason: reasonScheme},
		{name: "userinfo host confusion", url: "https://example.com@127.0.0.1/", reason: reasonUser},
		{name: "userinfo with public host", url: "https://user:pass@93.184.216.34/", reason: reasonUser},
		{name: "backslash confusion", url: `https://93.184.216.34\@127.0.0.1/`, reason: reasonAbsolute},
		{name: "javascript", url: "javascript:alert(1)", reason: reasonAbsolute},
		{name: "relative", url: "/webhooks", reason: reasonAbsolute},
		{name: "scheme-relative", url: "//93.184.216.34/", reason: reasonAbsolute},
		{name: "port only", url: "https://:443/", reason: reasonAbsolute},
		{name: "empty", url: "", reason: reasonAbsolute},
		{name: "port zero", url: "https://93.184.216.34:0/", reason: reasonPort},
		{name: "port too big", url: "https://93.184.216.34:70000/", reason: reasonPort},
	}
	if len(tests) < 40 {
		t.Fatalf("%d hostile targets, want at least 40", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assertRefused(t, g.CheckURL(context.Background(), tt.url), tt.reason)
		})
	}
}

func TestCheckURLAllowsPublicTargets(t *testing.T) {
	t.Parallel()
	g := Guard{Resolver: newFakeDNS(t, testRecords).resolver()}
	tests := []struct {
		name, url string
	}{
		{name: "public IPv4", url: "https://93.184.216.34/"},
		{name: "public IPv4 with port, path and query", url: "https://93.184.216.34:8443/hooks?x=1"},
		{name: "just outside 172.16/12", url: "https://172.32.0.1/"},
		{name: "just outside CGNAT", url: "https://100.128.0.1/"},
		{name: "public IPv6", url: "https://[2606:2800:220:1:248:1893:25c8:1946]/"},
		{name: "IPv4-mapped public", url: "https://[::ffff:93.184.216.34]/"},
		{name: "NAT64 public", url: "https://[64:ff9b::5db8:d822]/"},
		{name: "6to4 public", url: "https://[2002:5db8:d822::1]/"},
		{name: "name resolving to public", url: "https://public.example.com/webhooks"},
		{name: "name in upper case with trailing dot", url: "https://PUBLIC.example.com./"},
		{name: "name with public A and AAAA", url: "https://v6public.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := g.CheckURL(context.Background(), tt.url); err != nil {
				t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
			}
		})
	}
}

func TestCheckURLAllowPrivate(t *testing.T) {
	t.Parallel()
	g := Guard{AllowPrivate: true, Resolver: newFakeDNS(t, nil).resolver()}
	tests := []struct {
		name, url, reason string // reason "" = allowed
	}{
		{name: "http loopback", url: "http://127.0.0.1:8080/hook"},
		{name: "localhost", url: "http://localhost:9000/"},
		{name: "compose service name", url: "http://receiver:3000/webhooks"},
		{name: "private https", url: "https://10.0.0.1/"},
		{name: "loopback v6", url: "http://[::1]/"},
		{name: "still no ftp", url: "ftp://files.example.com/", reason: reasonScheme},
		{name: "still no credentials", url: "http://u:p@127.0.0.1/", reason: reasonUser},
		{name: "still absolute", url: "/hook", reason: reasonAbsolute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(context.Background(), tt.url)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			assertRefused(t, err, tt.reason)
		})
	}
}

func TestDisallowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{name: "public v4", addr: "8.8.8.8", want: false},
		{name: "below 10/8", addr: "9.255.255.255", want: false},
		{name: "10/8", addr: "10.255.255.255", want: true},
		{name: "below 172.16/12", addr: "172.15.255.255", want: false},
		{name: "172.16/12", addr: "172.20.0.1", want: true},
		{name: "above 172.16/12", addr: "172.32.0.0", want: false},
		{name: "below CGNAT", addr: "100.63.255.255", want: false},
		{name: "CGNAT", addr: "100.100.100.200", want: true},
		{name: "link-local", addr: "169.254.169.254", want: true},
		{name: "broadcast", addr: "255.255.255.255", want: true},
		{name: "documentation 203.0.113/24", addr: "203.0.113.7", want: true},
		{name: "public v6", addr: "2606:4700:4700::1111", want: false},
		{name: "loopback v6", addr: "::1", want: true},
		{name: "mapped public", addr: "::ffff:8.8.8.8", want: false},
		{name: "mapped private", addr: "::ffff:10.1.2.3", want: true},
		{name: "IPv4-compatible public", addr: "::8.8.8.8", want: true},
		{name: "NAT64 public", addr: "64:ff9b::808:808", want: false},
		{name: "NAT64 CGNAT", addr: "64:ff9b::6440:1", want: true},
		{name: "local-use NAT64 public", addr: "64:ff9b:1::808:808", want: false},
		{name: "6to4 private", addr: "2002:a00:1::1", want: true},
		{name: "documentation v6", addr: "2001:db8::1", want: true},
		{name: "ULA", addr: "fdff:ffff::1", want: true},
		{name: "zone on a global address", addr: "2606:4700:4700::1111%eth0", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Disallowed(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Disallowed(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	if !Disallowed(netip.Addr{}) {
		t.Error("Disallowed(zero Addr) = false, want true")
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, network, address string
		allowPrivate, wantErr  bool
	}{
		{name: "loopback", network: "tcp4", address: "127.0.0.1:443", wantErr: true},
		{name: "loopback v6", network: "tcp6", address: "[::1]:443", wantErr: true},
		{name: "mapped loopback", network: "tcp6", address: "[::ffff:127.0.0.1]:443", wantErr: true},
		{name: "metadata", network: "tcp4", address: "169.254.169.254:80", wantErr: true},
		{name: "not an address", network: "tcp", address: "localhost:443", wantErr: true},
		{name: "udp", network: "udp4", address: "93.184.216.34:53", wantErr: true},
		{name: "public", network: "tcp4", address: "93.184.216.34:443"},
		{name: "public v6", network: "tcp6", address: "[2606:2800:220:1:248:1893:25c8:1946]:443"},
		{name: "loopback allowed for development", network: "tcp4", address: "127.0.0.1:443", allowPrivate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Guard{AllowPrivate: tt.allowPrivate}.Control(tt.network, tt.address, nil)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("Control(%s, %s) = %v, want error %v", tt.network, tt.address, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrDisallowedAddress) {
				t.Errorf("Control error %v does not wrap ErrDisallowedAddress", err)
			}
		})
	}
}

func TestClientRefusesLoopbackAtConnect(t *testing.T) {
	t.Parallel()
	srv, conns := ssrftest.CountingServer(t, http.StatusOK, "")
	_, err := Guard{}.Client(5 * time.Second).Get(srv.URL + "/hook")
	if !errors.Is(err, ErrDisallowedAddress) {
		t.Fatalf("Get = %v, want an error wrapping ErrDisallowedAddress", err)
	}
	ssrftest.AssertConnections(t, srv, conns, 0)
}

func TestClientRefusesDNSRebinding(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	var conns atomic.Int64
	srv.Config.ConnState = ssrftest.CountNew(&conns)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	dns := newFakeDNS(t, map[string][]string{"rebind.example.com": {"93.184.216.34"}})
	g := Guard{Resolver: dns.resolver()}
	target := "https://rebind.example.com:" + strconv.Itoa(port) + "/hook"
	if err := g.CheckURL(context.Background(), target); err != nil {
		t.Fatalf("CheckURL while the name is public = %v, want nil", err)
	}
	dns.set("rebind.example.com", "127.0.0.1") // the attacker's DNS changes its answer

	_, err := g.Client(5 * time.Second).Get(target)
	if !errors.Is(err, ErrDisallowedAddress) {
		t.Fatalf("Get after rebinding = %v, want an error wrapping ErrDisallowedAddress", err)
	}
	ssrftest.AssertConnections(t, srv, &conns, 0)
}

func TestClientReturnsRedirects(t *testing.T) {
	t.Parallel()
	second, secondConns := ssrftest.CountingServer(t, http.StatusOK, "")
	first, _ := ssrftest.CountingServer(t, http.StatusFound, second.URL+"/elsewhere")
	resp, err := Guard{AllowPrivate: true}.Client(5 * time.Second).Get(first.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status = %d, want 302", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Location"), second.URL+"/elsewhere"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := secondConns.Load(); got != 0 {
		t.Errorf("redirect target saw %d connections, want 0", got)
	}
}

func TestClientAllowPrivate(t *testing.T) {
	t.Parallel()
	srv, _ := ssrftest.CountingServer(t, http.StatusNoContent, "")
	g := Guard{AllowPrivate: true}
	if err := g.CheckURL(context.Background(), srv.URL+"/hook"); err != nil {
		t.Fatalf("CheckURL(%s) = %v, want nil", srv.URL, err)
	}
	resp, err := g.Client(5 * time.Second).Get(srv.URL + "/hook")
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status = %d, want 204", resp.StatusCode)
	}
}

func TestClientSettings(t *testing.T) {
	t.Parallel()
	c := Guard{}.Client(7 * time.Second)
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T, want *http.Transport", c.Transport)
	}
	if tr.Proxy != nil {
		t.Error("transport uses a proxy; environment proxies must be ignored")
	}
	if tr.MaxIdleConnsPerHost < 64 {
		t.Errorf("MaxIdleConnsPerHost = %d, want at least 64", tr.MaxIdleConnsPerHost)
	}
	if c.Timeout != 7*time.Second {
		t.Errorf("Timeout = %v, want 7s", c.Timeout)
	}
	if c.CheckRedirect == nil {
		t.Error("CheckRedirect is nil: redirects would be followed")
	}
}

func assertRefused(tb testing.TB, err error, reason string) {
	tb.Helper()
	var de *Refusal
	if !errors.As(err, &de) {
		tb.Fatalf("error = %v, want a *Refusal", err)
	}
	if !strings.Contains(de.Message, reason) {
		tb.Errorf("message = %q, want it to contain %q", de.Message, reason)
	}
}

// fakeDNS is a DNS server on 127.0.0.1 over UDP answering A and AAAA queries
// from a table, so resolution is tested without network access.
type fakeDNS struct {
	conn    net.PacketConn
	mu      sync.Mutex
	records map[string][]netip.Addr
}

func newFakeDNS(tb testing.TB, records map[string][]string) *fakeDNS {
	tb.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	d := &fakeDNS{conn: conn, records: map[string][]netip.Addr{}}
	for name, addrs := range records {
		d.set(name, addrs...)
	}
	done := make(chan struct{})
	go func() { defer close(done); d.serve() }()
	tb.Cleanup(func() {
		conn.Close()
		<-done
	})
	return d
}

func (d *fakeDNS) set(name string, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[name] = nil
	for _, a := range addrs {
		d.records[name] = append(d.records[name], netip.MustParseAddr(a))
	}
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "udp", d.conn.LocalAddr().String())
	}}
}

func (d *fakeDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := d.answer(buf[:n]); resp != nil {
			_, _ = d.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query: the question echoed, then one
// record per matching address; NXDOMAIN for names not in the table.
func (d *fakeDNS) answer(q []byte) []byte {
	i, labels := 12, []string(nil)
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l&0xc0 != 0 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if len(q) < 12 || i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	d.mu.Lock()
	addrs, known := d.records[strings.ToLower(strings.Join(labels, "."))]
	d.mu.Unlock()

	resp := append([]byte(nil), q[:2]...) // id
	flags := uint16(0x8580)               // response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1) // questions
	countAt := len(resp)
	resp = append(resp, 0, 0, 0, 0, 0, 0) // answers, authority, additional
	resp = append(resp, q[12:i+5]...)
	var count uint16
	for _, a := range addrs {
		var rdata []byte
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			rdata = b[:]
		case qtype == 28 && a.Is6():
			b := a.As16()
			rdata = b[:]
		default:
			continue
		}
		resp = append(resp, 0xc0, 12) // the name, by pointer to the question
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1)  // class IN
		resp = binary.BigEndian.AppendUint32(resp, 60) // TTL
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
		count++
	}
	binary.BigEndian.PutUint16(resp[countAt:], count)
	return resp
}
