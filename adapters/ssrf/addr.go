package ssrf

import "net/netip"

var (
	v4Refused = prefixes("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
		"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
		"192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")
	// ::/8 is reserved as a whole: unspecified, loopback, IPv4-compatible and
	// IPv4-translated forms. The usable forms inside it (mapped, NAT64) are
	// unwrapped before this list is consulted. 2001::/23 holds Teredo,
	// benchmarking and ORCHID; none is a place a webhook lives.
	v6Refused = prefixes("::/8", "100::/64", "2001::/23", "2001:db8::/32",
		"3fff::/20", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8")
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// Disallowed reports whether ip may not be contacted by a webhook: loopback,
// private, link-local, CGNAT, multicast, broadcast, unspecified, reserved,
// benchmarking and documentation ranges, and IPv6 forms that embed or tunnel
// to such an IPv4 address (mapped, NAT64, 6to4). Addresses with a zone are
// link-scoped and refused.
func Disallowed(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		return true
	}
	if ip.Is4In6() {
		return Disallowed(ip.Unmap())
	}
	if ip.Is4() {
		return inAny(ip, v4Refused)
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return Disallowed(v4)
	}
	return inAny(ip, v6Refused)
}

// embeddedIPv4 returns the IPv4 address that ip reaches through a translator
// or tunnel. The local-use NAT64 prefix is only understood in its /96 layout;
// other layouts return an invalid address, which Disallowed refuses, because
// the IPv4 address they reach cannot be known.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64WellKnown.Contains(ip), nat64Local.Contains(ip) && b[6]|b[7]|b[8]|b[9]|b[10]|b[11] == 0:
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case nat64Local.Contains(ip):
		return netip.Addr{}, true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

func inAny(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
