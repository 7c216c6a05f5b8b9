package signin_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/signin"
)

// attacks are return paths that leave the origin in some browser or behind some server, or are not
// paths at all. Each must become "/".
var attacks = map[string]string{
	"tab":                          "/\t/evil.example",
	"tab first":                    "\t//evil.example",
	"newline":                      "/\n/evil.example",
	"carriage return":              "/\r/evil.example",
	"NUL":                          "/\x00/evil.example",
	"DEL":                          "/\x7f/evil.example",
	"C1 control":                   "/\u0085/evil.example",
	"control in query":             "/device?x=\t",
	"scheme-relative":              "//evil.example",
	"scheme-relative path":         "//evil.example/path",
	"slash backslash":              "/\\evil.example",
	"backslash slash":              "\\/evil.example",
	"two backslashes":              "\\\\evil.example",
	"backslash later":              "/a\\b",
	"absolute URL":                 "https://evil.example/",
	"upper-case scheme":            "HTTPS://evil.example/",
	"javascript":                   "javascript:alert(1)",
	"data":                         "data:text/html,<script>alert(1)</script>",
	"relative":                     "evil.example",
	"leading space":                " //evil.example",
	"empty":                        "",
	"encoded tab":                  "/%09/evil.example",
	"encoded slash":                "/%2F/evil.example",
	"encoded slashes":              "/%2F%2Fevil.example",
	"encoded backslash":            "/%5Cevil.example",
	"encoded backslash later":      "/a%5Cb",
	"encoded NUL":                  "/%00/evil.example",
	"encoded newline":              "/%0a/evil.example",
	"double-encoded slashes":       "/%252F%252Fevil.example",
	"triple-encoded slashes":       "/%25252F%25252Fevil.example",
	"dot segment then slash":       "/.//evil.example",
	"dot-dot segment then slash":   "/..//evil.example",
	"dot-dot inside":               "/a/..//evil.example",
	"encoded dot-dot":              "/%2e%2e//evil.example",
	"invalid escape":               "/%zz",
	"invalid UTF-8":                "/\xff",
	"too long":                     "/" + strings.Repeat("a", signin.MaxReturnPathLength),
	"user info":                    "//user@evil.example",
	"encoded slash after dot-dot":  "/..%2F%2Fevil.example",
	"encoded slash after dot":      "/.%2F%2Fevil.example",
	"encoded tab then slash slash": "/%09//evil.example",
}

// paths are return paths a server's own pages produce; each must be kept as it is.
var paths = map[string]string{
	"root":                   "/",
	"page":                   "/device",
	"query":                  "/device?user_code=WDJB-MJHT",
	"authorize request":      "/oauth2/auth?client_id=demo-confidential&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcallback&response_type=code&scope=openid&state=abcdefgh",
	"encoded space":          "/a%20b",
	"encoded slash later":    "/a%2Fb",
	"fragment":               "/ciba#request-1",
	"non-ASCII":              "/caf\u00e9",
	"trailing slash":         "/kiosk/",
	"dots inside a segment":  "/a..b/.c",
	"colon in path":          "/a:b",
	"at sign":                "/@evil.example",
	"literal percent":        "/100%25",
	"slashes in query":       "/device?next=//evil.example",
	"longest":                "/" + strings.Repeat("a", signin.MaxReturnPathLength-1),
	"encoded slashes middle": "/a/%2F%2Fb",
}

func TestReturnPath(t *testing.T) {
	for name, p := range attacks {
		t.Run("refused/"+name, func(t *testing.T) {
			require.Equal(t, "/", signin.ReturnPath(p))
		})
	}
	for name, p := range paths {
		t.Run("kept/"+name, func(t *testing.T) {
			require.Equal(t, p, signin.ReturnPath(p))
			requireSameOrigin(t, p)
		})
	}
}

// browserResolve resolves a Location header value the way a browser does for an http(s) page (WHATWG
// URL Standard, basic URL parser): leading and trailing C0 controls and spaces removed, tabs and
// newlines removed anywhere, backslashes read as slashes, then resolved against the page's URL.
func browserResolve(base *url.URL, location string) (*url.URL, error) {
	s := strings.TrimFunc(location, func(r rune) bool { return r <= ' ' })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(s)
	ref, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// requireSameOrigin checks that the return path stays on the origin, as a browser reads it and after
// one to three rounds of percent-decoding by a server along the way.
func requireSameOrigin(t testing.TB, p string) {
	t.Helper()
	base, err := url.Parse("https://origin.test/login")
	require.NoError(t, err)
	for round, s := 0, p; round <= 3; round++ {
		u, err := browserResolve(base, s)
		if round > 0 && err != nil {
			return // a stray "%" after decoding: such a server answers an error, not a redirect
		}
		require.NoError(t, err, "round %d: %q", round, s)
		require.Equal(t, "https", u.Scheme, "round %d: %q", round, s)
		require.Equal(t, "origin.test", u.Host, "round %d: %q", round, s)
		require.Nil(t, u.User, "round %d: %q", round, s)
		path, rest, _ := strings.Cut(s, "?")
		d, err := url.PathUnescape(path)
		if err != nil {
			return
		}
		if rest != "" {
			d += "?" + rest
		}
		s = d
	}
}

// FuzzReturnPath: whatever comes in, the result is the input or "/", parses as a URL reference with an
// empty scheme and host, starts with exactly one slash, and stays on the origin however a browser
// reads it, also after a server along the way decodes its path.
func FuzzReturnPath(f *testing.F) {
	for _, p := range attacks {
		f.Add(p)
	}
	for _, p := range paths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := signin.ReturnPath(p)
		if got != "/" {
			require.Equal(t, p, got)
		}
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Empty(t, u.Scheme)
		require.Empty(t, u.Host)
		require.True(t, strings.HasPrefix(got, "/") && !strings.HasPrefix(got, "//"), "%q", got)
		requireSameOrigin(t, got)
	})
}
