package pending_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// TestCeilingFor: the global ceiling and a client's combine, the tighter of each part winning; a
// client without its own gets the global one.
func TestCeilingFor(t *testing.T) {
	t.Parallel()
	p := pending.Policy{
		Ceiling: pending.Ceiling{Scopes: []string{"openid", "profile", "usage:read"}, AccessTokenLifespan: time.Hour, CodeLifespan: 10 * time.Minute},
		ClientCeilings: map[string]pending.Ceiling{
			"tv":     {Scopes: []string{"profile", "photos"}, AccessTokenLifespan: 2 * time.Hour, RefreshTokenLifespan: 24 * time.Hour, NoRefreshTokens: true},
			"kiosk":  {CodeLifespan: 7 * 24 * time.Hour},
			"nobody": {Scopes: []string{"photos"}},
		},
	}
	for _, tc := range []struct {
		name, client string
		want         pending.Ceiling
	}{
		{"no ceiling of its own", "cli", p.Ceiling},
		{"both: scopes intersect, shorter lifetimes, refresh off", "tv", pending.Ceiling{Scopes: []string{"profile"}, AccessTokenLifespan: time.Hour,
			RefreshTokenLifespan: 24 * time.Hour, NoRefreshTokens: true, CodeLifespan: 10 * time.Minute}},
		{"a longer code lifetime cannot exceed the global one", "kiosk", p.Ceiling},
		{"disjoint scopes allow none", "nobody", pending.Ceiling{Scopes: []string{}, AccessTokenLifespan: time.Hour, CodeLifespan: 10 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, p.CeilingFor(tc.client))
		})
	}
	require.Equal(t, pending.Ceiling{}, (&pending.Policy{}).CeilingFor("tv"), "the zero policy caps nothing")
}

// TestSameNetwork: one network operator when both are known, else the same /24 or /48.
func TestSameNetwork(t *testing.T) {
	t.Parallel()
	a := netip.MustParseAddr
	telco, cable := pending.Place{ASN: 3320}, pending.Place{ASN: 6830}
	for _, tc := range []struct {
		name   string
		x, y   netip.Addr
		px, py pending.Place
		want   bool
	}{
		{"same /24", a("203.0.113.7"), a("203.0.113.200"), pending.Place{}, pending.Place{}, true},
		{"another /24", a("203.0.113.7"), a("203.0.114.7"), pending.Place{}, pending.Place{}, false},
		{"same operator, far apart", a("203.0.113.7"), a("198.51.100.1"), telco, telco, true},
		{"other operators, same /24", a("203.0.113.7"), a("203.0.113.8"), telco, cable, false},
		{"one operator unknown: prefixes", a("203.0.113.7"), a("203.0.113.8"), telco, pending.Place{}, true},
		{"same /48", a("2001:db8:1:2::1"), a("2001:db8:1:ffff::9"), pending.Place{}, pending.Place{}, true},
		{"another /48", a("2001:db8:1::1"), a("2001:db8:2::1"), pending.Place{}, pending.Place{}, false},
		{"IPv4-mapped is IPv4", a("::ffff:203.0.113.7"), a("203.0.113.9"), pending.Place{}, pending.Place{}, true},
		{"IPv4 and IPv6", a("203.0.113.7"), a("2001:db8::1"), pending.Place{}, pending.Place{}, false},
		{"both loopback", a("127.0.0.1"), a("::1"), pending.Place{}, pending.Place{}, true},
		{"unknown address", netip.Addr{}, a("203.0.113.7"), pending.Place{}, pending.Place{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, pending.SameNetwork(tc.x, tc.y, tc.px, tc.py))
		})
	}
}

// TestInitiationLimitsOr: zero takes the default, negative turns a limit off.
func TestInitiationLimitsOr(t *testing.T) {
	t.Parallel()
	def := pending.InitiationLimits{PerAddress: 60, PerUser: 5, Window: 15 * time.Minute}
	require.Equal(t, def, pending.InitiationLimits{}.Or(def))
	require.Equal(t, pending.InitiationLimits{PerClient: 10, PerAddress: 0, PerUser: 5, Window: time.Hour},
		pending.InitiationLimits{PerClient: 10, PerAddress: -1, Window: time.Hour}.Or(def))
}
