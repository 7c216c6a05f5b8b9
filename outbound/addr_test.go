package outbound_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbound"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		addr          string
		allowLoopback bool
		ok            bool
	}{
		{"public IPv4", "93.184.215.14", false, true},
		{"public IPv6", "2606:4700::1111", false, true},
		{"loopback", "127.0.0.1", false, false},
		{"loopback elsewhere in 127/8", "127.8.9.1", false, false},
		{"loopback in dev mode", "127.0.0.1", true, true},
		{"IPv6 loopback", "::1", false, false},
		{"IPv6 loopback in dev mode", "::1", true, true},
		{"mapped loopback in dev mode", "::ffff:127.0.0.1", true, true},
		{"mapped loopback", "::ffff:127.0.0.1", false, false},
		{"private 10/8, even in dev mode", "10.1.2.3", true, false},
		{"private 172.16/12", "172.16.0.1", false, false},
		{"private 192.168/16", "192.168.1.1", false, false},
		{"mapped private", "::ffff:10.0.0.1", false, false},
		{"cloud metadata", "169.254.169.254", true, false},
		{"mapped cloud metadata", "::ffff:169.254.169.254", true, false},
		{"carrier-grade NAT", "100.64.0.1", false, false},
		{"this network", "0.1.2.3", false, false},
		{"unspecified", "0.0.0.0", true, false},
		{"IPv6 unspecified", "::", true, false},
		{"multicast", "224.0.0.1", false, false},
		{"broadcast", "255.255.255.255", false, false},
		{"reserved 240/4", "240.0.0.1", false, false},
		{"benchmarking", "198.18.0.1", false, false},
		{"documentation", "192.0.2.1", false, false},
		{"6to4 relay anycast", "192.88.99.1", false, false},
		{"IPv6 unique local", "fd00::1", false, false},
		{"IPv6 link-local", "fe80::1", true, false},
		{"IPv6 link-local with a zone", "fe80::1%eth0", true, false},
		{"IPv6 multicast", "ff02::1", false, false},
		{"IPv4-compatible loopback", "::7f00:1", true, false},
		{"NAT64 of loopback", "64:ff9b::7f00:1", true, false},
		{"NAT64 of a public address", "64:ff9b::5db8:d70e", false, false},
		{"local-use NAT64", "64:ff9b:1::a00:1", false, false},
		{"discard-only", "100::1", false, false},
		{"Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", false, false},
		{"6to4 of a private address", "2002:a00:1::1", false, false},
		{"IPv6 documentation", "2001:db8::1", false, false},
		{"invalid", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var a netip.Addr
			if tc.addr != "" {
				a = netip.MustParseAddr(tc.addr)
			}
			err := outbound.CheckAddr(a, tc.allowLoopback)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, outbound.ErrForbidden)
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		url           string
		allowLoopback bool
		ok            bool
	}{
		{"https name", "https://client.example/jwks", false, true},
		{"https with port and query", "https://client.example:8443/cb?x=1", false, true},
		{"https public IPv4", "https://8.8.8.8/cb", false, true},
		{"https public IPv6", "https://[2606:4700::1111]/cb", false, true},
		{"upper-case scheme", "HTTPS://client.example/cb", false, true},
		{"http refused", "http://client.example/cb", false, false},
		{"http refused in dev mode for a non-loopback host", "http://client.example/cb", true, false},
		{"http loopback refused outside dev mode", "http://127.0.0.1:8080/cb", false, false},
		{"http loopback in dev mode", "http://127.0.0.1:8080/cb", true, true},
		{"http localhost in dev mode", "http://localhost:8080/cb", true, true},
		{"http IPv6 loopback in dev mode", "http://[::1]:8080/cb", true, true},
		{"https 127.0.0.1 outside dev mode", "https://127.0.0.1/jwks", false, false},
		{"https [::1] outside dev mode", "https://[::1]/jwks", false, false},
		{"https localhost outside dev mode", "https://localhost/jwks", false, false},
		{"https LOCALHOST. outside dev mode", "https://LOCALHOST./jwks", false, false},
		{"https name under .localhost outside dev mode", "https://api.localhost/jwks", false, false},
		{"https metadata service", "https://169.254.169.254/latest/meta-data", true, false},
		{"https 10.0.0.1", "https://10.0.0.1/jwks", true, false},
		{"https 192.168", "https://192.168.1.1/cb", true, false},
		{"https 0.0.0.0", "https://0.0.0.0/cb", true, false},
		{"https mapped private", "https://[::ffff:10.0.0.1]/cb", false, false},
		{"https NAT64 of a private address", "https://[64:ff9b::a00:1]/cb", false, false},
		{"https zoned link-local", "https://[fe80::1%25eth0]/cb", true, false},
		{"decimal IPv4 notation", "https://2130706433/jwks", true, false},
		{"hex IPv4 notation", "https://0x7f.1/jwks", true, false},
		{"short IPv4 notation", "https://127.1/jwks", true, false},
		{"numeric last label", "https://client.example.123/jwks", false, false},
		{"name with digits", "https://cdn1.client.example/jwks", false, true},
		{"user info", "https://user:pass@client.example/cb", false, false},
		{"fragment", "https://client.example/cb#frag", false, false},
		{"empty fragment", "https://client.example/cb#", false, false},
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
			err := outbound.CheckURL(tc.url, tc.allowLoopback)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, outbound.ErrForbidden)
		})
	}
}

// FuzzCheckURL: CheckURL never panics; what it accepts is an https URL (http only to a loopback
// host, in dev mode) with a host and no user info or fragment, whose IP literal passes CheckAddr,
// and which names no loopback host outside dev mode.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://client.example/cb", "http://127.0.0.1:1/", "https://[::ffff:10.0.0.1]/", "https://a@b/",
		"\x00", "https://%zz", "https://2130706433/", "https://localhost./", "https://[fe80::1%25eth0]/",
		"HTTP://[::1]:80/x", "https://0x7f.1/", "https://client.example:65535/cb?q#",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowLoopback bool) {
		err := outbound.CheckURL(raw, allowLoopback)
		if err != nil {
			require.ErrorIs(t, err, outbound.ErrForbidden)
			return
		}
		u, perr := url.Parse(raw)
		require.NoError(t, perr)
		require.Nil(t, u.User)
		require.NotContains(t, raw, "#")
		host := u.Hostname()
		require.NotEmpty(t, host)
		lower := strings.ToLower(strings.TrimSuffix(host, "."))
		isLoopbackName := lower == "localhost" || strings.HasSuffix(lower, ".localhost")
		a, literal := netip.ParseAddr(host)
		if literal == nil {
			require.NoError(t, outbound.CheckAddr(a, allowLoopback))
		}
		if !allowLoopback {
			require.False(t, isLoopbackName, "a loopback name outside dev mode")
			require.Equal(t, "https", strings.ToLower(u.Scheme))
		} else if strings.ToLower(u.Scheme) != "https" {
			require.Equal(t, "http", strings.ToLower(u.Scheme))
			require.True(t, isLoopbackName || (literal == nil && a.Unmap().IsLoopback()), "http only to a loopback host")
		}
	})
}
