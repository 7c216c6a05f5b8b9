package outbox_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbox"
)

func TestValidateTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		url           string
		allowLoopback bool
		ok            bool
	}{
		{"https name", "https://client.example/cb", false, true},
		{"https with port and query", "https://client.example:8443/cb?x=1", false, true},
		{"https public IPv4", "https://8.8.8.8/cb", false, true},
		{"http refused", "http://client.example/cb", false, false},
		{"http refused even in dev mode for a non-loopback host", "http://client.example/cb", true, false},
		{"http loopback refused by default", "http://127.0.0.1:8080/cb", false, false},
		{"http loopback in dev mode", "http://127.0.0.1:8080/cb", true, true},
		{"http localhost in dev mode", "http://localhost:8080/cb", true, true},
		{"http IPv6 loopback in dev mode", "http://[::1]:8080/cb", true, true},
		{"https loopback refused by default", "https://127.0.0.1/cb", false, false},
		{"https localhost refused by default", "https://localhost/cb", false, false},
		{"private 10/8", "https://10.0.0.1/cb", true, false},
		{"private 192.168", "https://192.168.1.1/cb", true, false},
		{"private 172.16", "https://172.16.0.1/cb", false, false},
		{"link-local metadata", "https://169.254.169.254/latest/meta-data", true, false},
		{"unspecified", "https://0.0.0.0/cb", true, false},
		{"multicast", "https://224.0.0.1/cb", false, false},
		{"carrier-grade NAT", "https://100.64.0.1/cb", false, false},
		{"IPv6 unique local", "https://[fd00::1]/cb", false, false},
		{"IPv6 link-local", "https://[fe80::1]/cb", true, false},
		{"IPv4-mapped private", "https://[::ffff:10.0.0.1]/cb", false, false},
		{"NAT64 of a private address", "https://[64:ff9b::a00:1]/cb", false, false},
		{"user info", "https://user:pass@client.example/cb", false, false},
		{"fragment", "https://client.example/cb#frag", false, false},
		{"relative", "/cb", false, false},
		{"no host", "https:///cb", false, false},
		{"opaque", "https:client.example", false, false},
		{"other scheme", "ftp://client.example/cb", false, false},
		{"empty", "", false, false},
		{"port zero", "https://client.example:0/cb", false, false},
		{"port too large", "https://client.example:70000/cb", false, false},
		{"garbage", "https://%zz", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := outbox.ValidateTarget(tc.url, tc.allowLoopback)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, outbox.ErrForbiddenTarget)
			require.False(t, outbox.Retryable(err), "a refused target is permanent")
		})
	}
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr          string
		allowLoopback bool
		ok            bool
	}{
		{"93.184.215.14", false, true},
		{"2606:4700::1111", false, true},
		{"127.0.0.1", false, false},
		{"127.0.0.1", true, true},
		{"::1", true, true},
		{"::ffff:127.0.0.1", true, true},
		{"10.1.2.3", true, false},
		{"169.254.169.254", true, false},
		{"fe80::1", true, false},
		{"ff02::1", false, false},
		{"::", false, false},
		{"255.255.255.255", false, false},
		{"198.18.0.1", false, false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			err := outbox.CheckAddr(netip.MustParseAddr(tc.addr), tc.allowLoopback)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, outbox.ErrForbiddenTarget)
			}
		})
	}
}

// FuzzValidateTarget: any string either is refused with ErrForbiddenTarget or is an https URL (http
// only to loopback in dev mode) without user info; it never panics.
func FuzzValidateTarget(f *testing.F) {
	for _, s := range []string{"https://client.example/cb", "http://127.0.0.1:1/", "https://[::ffff:10.0.0.1]/", "https://a@b/", "\x00", "https://%zz"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allow bool) {
		err := outbox.ValidateTarget(raw, allow)
		if err != nil {
			require.ErrorIs(t, err, outbox.ErrForbiddenTarget)
			return
		}
		u, perr := url.Parse(raw)
		require.NoError(t, perr)
		require.Nil(t, u.User)
		require.NotEmpty(t, u.Hostname())
		if u.Scheme != "https" {
			require.True(t, allow)
			require.Equal(t, "http", u.Scheme)
		}
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
			require.NoError(t, outbox.CheckAddr(a, allow))
		}
	})
}
