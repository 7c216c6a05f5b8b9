package server

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFormActionSource: the consent page's form-action names where its answer redirects — the
// client's origin, or its private-use scheme — and nothing a registered redirect URI could use to
// add a directive.
func TestFormActionSource(t *testing.T) {
	for _, c := range []struct{ name, uri, want string }{
		{"https client", "https://client.example.com/cb?x=1", "https://client.example.com"},
		{"port", "http://127.0.0.1:9999/callback", "http://127.0.0.1:9999"},
		{"ipv6 loopback", "http://[::1]:8080/cb", "http://[::1]:8080"},
		{"native app", "com.example.app:/oauth2redirect", "com.example.app:"},
		{"no scheme", "/relative", ""},
		{"injection in the host", "https://a.example;script-src%20*/cb", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := url.Parse(c.uri)
			if err != nil {
				require.Empty(t, c.want)
				return
			}
			require.Equal(t, c.want, formActionSource(u))
		})
	}
	require.Empty(t, formActionSource(nil))
}

// FuzzFormActionSource: whatever a client registers, the source is empty or one token without a
// character that ends a CSP directive or source list.
func FuzzFormActionSource(f *testing.F) {
	for _, s := range []string{"https://client.example.com/cb", "com.example.app:/cb", "http://[::1]:80/", "https://a;b/", "x:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		src := formActionSource(u)
		require.False(t, strings.ContainsAny(src, "; ,'\t\r\n\"\x00"), "%q gave %q", raw, src)
	})
}
