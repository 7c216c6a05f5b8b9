package server

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSignInAddress: attempts count per IPv4 address and per IPv6 /64, so that an attacker holding a
// /64 (a single subscriber's usual allocation) can not rotate addresses within it to dodge the limit,
// and an IPv4-mapped IPv6 address counts as its IPv4 address.
func TestSignInAddress(t *testing.T) {
	for name, tc := range map[string]struct{ remote, want string }{
		"IPv4":             {"192.0.2.7:5555", "192.0.2.7"},
		"IPv6":             {"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		"IPv6 same /64":    {"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", "2001:db8:1:2::/64"},
		"IPv6 with a zone": {"[fe80::1%eth0]:1", "fe80::/64"},
		"IPv4-mapped IPv6": {"[::ffff:192.0.2.7]:1", "192.0.2.7"},
		"no port":          {"192.0.2.7", "192.0.2.7"},
		"not an address":   {"pipe", "pipe"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, signInAddress(&http.Request{RemoteAddr: tc.remote}))
		})
	}
}
