// Package ssrf keeps outgoing requests away from the operator's own network:
// a URL is checked when it is saved (CheckURL) and every connection again at
// dial time (Control, through Client), so neither a hostile URL nor a DNS
// answer that changes later reaches loopback, private, link-local or
// internal addresses. Standard library only.
package ssrf

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Guard decides which targets may be contacted. The zero value is the
// production guard.
type Guard struct {
	AllowPrivate bool          // LEDGER_WEBHOOK_ALLOW_PRIVATE: allows http and private addresses
	Resolver     *net.Resolver // nil = net.DefaultResolver
}

// internalSuffixes are names that only mean something inside one network
// (RFC 6761, RFC 6762, RFC 8375, RFC 9476, ICANN's .internal, and the
// suffixes routers and AD domains commonly invent). "arpa" covers home.arpa
// and the reverse zones.
var internalSuffixes = []string{
	"localhost", "localdomain", "local", "internal", "intranet", "lan", "home",
	"corp", "private", "test", "example", "invalid", "onion", "alt", "arpa",
}

// CheckURL validates a webhook URL when it is saved. It returns a *Refusal,
// or ctx's error when ctx ends during the DNS lookup. With AllowPrivate only
// the URL's form is checked (absolute, http or https, no credentials).
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" {
		return refuse("must be an absolute URL such as https://example.com/webhooks")
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !g.AllowPrivate) {
		return refuse("must use https")
	}
	if u.User != nil {
		return refuse("must not contain a user name or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return refuse("has an invalid port")
		}
	}
	if g.AllowPrivate {
		return nil
	}
	return g.checkHost(ctx, u.Hostname())
}

func (g Guard) checkHost(ctx context.Context, host string) error {
	// url.Parse admits a colon in a host only inside brackets: an IPv6 literal.
	if strings.Contains(host, ":") {
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Zone() != "" {
			return refuse("has an invalid IPv6 address")
		}
		if Disallowed(ip) {
			return refusedAddress()
		}
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	labels, ok := hostLabels(name)
	if !ok {
		return refuse("has an invalid host name (use the xn-- form for international names)")
	}
	// Browsers and inet_aton read a host whose last label is a number as an
	// IPv4 address, in any of its spellings; so must we.
	if endsInNumber(labels) {
		ip, ok := parseIPv4(labels)
		if !ok {
			return refuse("has an invalid IPv4 address")
		}
		if Disallowed(ip) {
			return refusedAddress()
		}
		if ip.String() != name {
			return refuse("must write an IPv4 address in dotted-decimal form")
		}
		return nil
	}
	for _, s := range internalSuffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return refuse("must not use an internal host name")
		}
	}
	if len(labels) < 2 {
		return refuse("must use a fully qualified domain name")
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", name+".")
	if ctx.Err() != nil {
		return fmt.Errorf("resolve webhook host: %w", ctx.Err())
	}
	if err != nil || len(addrs) == 0 {
		return refuse("has a host name that does not resolve")
	}
	for _, a := range addrs {
		if Disallowed(a) {
			return refusedAddress()
		}
	}
	return nil
}

// hostLabels splits a lower-cased DNS name into labels, refusing anything
// but letters, digits, '-' and '_' (so no Unicode that IDNA would map onto
// dots or digits) and empty or overlong labels.
func hostLabels(name string) ([]string, bool) {
	if name == "" || len(name) > 253 {
		return nil, false
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return nil, false
		}
	}
	return labels, true
}

// endsInNumber is the WHATWG URL "ends in a number" test: the last label is
// all digits or 0x followed by hex digits.
func endsInNumber(labels []string) bool {
	last := labels[len(labels)-1]
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// parseIPv4 reads an IPv4 address the way inet_aton and browsers do: one to
// four parts, each decimal, octal (leading 0) or hex (0x); the last part
// fills the remaining bytes (127.1 is 127.0.0.1, 2130706433 is 127.0.0.1).
func parseIPv4(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, l := range labels {
		base, digits := 10, l
		switch {
		case strings.HasPrefix(l, "0x"):
			base, digits = 16, "0"+l[2:]
		case len(l) > 1 && l[0] == '0':
			base, digits = 8, l[1:]
		}
		n, err := strconv.ParseUint(digits, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(labels)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(labels))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Refusal is the error CheckURL returns for a URL that may not be
// contacted. Its message is safe to show the URL's owner: it says what is
// wrong without naming the addresses a name resolved to.
type Refusal struct{ Message string }

func (r *Refusal) Error() string { return r.Message }

func refuse(msg string) error {
	return &Refusal{Message: "webhook url " + msg}
}

func refusedAddress() error {
	return refuse("must not point to a loopback, private, link-local or reserved address")
}
