package httpapi

import (
	"net/http"
	"testing"
)

func TestClientKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, remote, forwarded, want string
	}{
		{name: "ipv4", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "forwarded header ignored", remote: "203.0.113.7:5555", forwarded: "198.51.100.1", want: "203.0.113.7"},
		{name: "ipv6 by /64", remote: "[2001:db8:1:2:3:4:5:6]:443", want: "2001:db8:1:2::/64"},
		{name: "mapped ipv4", remote: "[::ffff:203.0.113.7]:1", want: "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			if got := clientKey(r); got != tc.want {
				t.Errorf("clientKey(%s): got %q, want %q", tc.remote, got, tc.want)
			}
		})
	}
}
