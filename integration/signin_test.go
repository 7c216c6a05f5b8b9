package integration

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/storage/memory"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// signInStore is a kind of store the sign-in tests run on. dsn returns a fresh database (a file or a
// PostgreSQL schema) that several server instances may open; it is nil for the memory store.
type signInStore struct {
	name string
	dsn  func(t *testing.T) string
}

func signInStores() []signInStore {
	return []signInStore{
		{name: "memory"},
		{name: "sqlite", dsn: func(t *testing.T) string { return filepath.Join(t.TempDir(), "grants.db") }},
		{name: "postgres", dsn: freshPostgresSchema},
	}
}

// freshPostgresSchema returns a DSN whose search_path is a new schema of its own in the database
// named by GRANTS_TEST_POSTGRES_DSN (dropped when the test ends), and skips the test without it.
func freshPostgresSchema(t *testing.T) string {
	base := os.Getenv("GRANTS_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PostgreSQL tests are off: set GRANTS_TEST_POSTGRES_DSN")
	}
	db, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "grants_signin_" + hex.EncodeToString(b[:])
	_, err = db.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := db.Exec("DROP SCHEMA " + schema + " CASCADE")
		require.NoError(t, err)
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a store on dsn (a new memory store for the memory kind) and closes it with the test.
func (k signInStore) open(t *testing.T, dsn string) server.Store {
	t.Helper()
	if k.dsn == nil {
		return memory.New()
	}
	s, err := sqlstore.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// forEachSignInStore runs fn once per store kind, with a server on a fresh store of that kind.
func forEachSignInStore(t *testing.T, fn func(t *testing.T, e *env, store server.Store)) {
	for _, k := range signInStores() {
		t.Run(k.name, func(t *testing.T) {
			dsn := ""
			if k.dsn != nil {
				dsn = k.dsn(t)
			}
			store := k.open(t, dsn)
			fn(t, start(t, func(o *server.Options) { o.Store = store }), store)
		})
	}
}

// anonymous is a person with a fresh browser (no cookies) who sees redirects instead of following them.
func (e *env) anonymous() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &browser{t: e.t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// send posts a form and returns the whole response (body read and closed), without following a redirect.
func (b *browser) send(path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.url+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

// loginForm opens the sign-in page and returns its CSRF token and the return_to it carries.
func (b *browser) loginForm(returnTo string) (csrf, carried string) {
	b.t.Helper()
	status, page := b.get("/login?return_to=" + url.QueryEscape(returnTo))
	require.Equal(b.t, http.StatusOK, status)
	m := returnToRE.FindStringSubmatch(page)
	require.NotNil(b.t, m, "no return_to on the sign-in page")
	return csrfOf(b.t, page), htmlUnescape(m[1])
}

var returnToRE = regexp.MustCompile(`name="return_to" value="([^"]*)"`)

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&#43;", "+").Replace(s)
}

// attempt opens the sign-in page and signs in (without following the redirect).
func (b *browser) attempt(user, password string) (*http.Response, string) {
	b.t.Helper()
	csrf, _ := b.loginForm("/")
	return b.send("/login", url.Values{"csrf": {csrf}, "username": {user}, "password": {password}, "return_to": {"/"}}, nil)
}

// signedInAs reports who the browser is signed in as on the home page ("" for nobody).
func (b *browser) signedInAs() string {
	b.t.Helper()
	status, page := b.get("/")
	require.Equal(b.t, http.StatusOK, status)
	m := regexp.MustCompile(`signed in as <b>([^<]+)</b>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

func sessionCookieOf(t *testing.T, b *browser) *http.Cookie {
	u, err := url.Parse(b.e.url)
	require.NoError(t, err)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "grants_session" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// returnToAttacks are return_to values that must not take the browser to another origin after sign-in.
// The evil origin is a placeholder replaced by a real one in the browser test.
func returnToAttacks(evil string) map[string]string {
	return map[string]string{
		"tab":                    "/\t/" + evil + "/",
		"newline":                "/\n/" + evil + "/",
		"carriage return":        "/\r/" + evil + "/",
		"tab first":              "\t//" + evil + "/",
		"scheme-relative":        "//" + evil + "/",
		"slash backslash":        "/\\" + evil + "/",
		"backslash slash":        "\\/" + evil + "/",
		"backslashes":            "\\\\" + evil + "/",
		"absolute":               "http://" + evil + "/",
		"upper-case scheme":      "HTTP://" + evil + "/",
		"javascript":             "javascript:alert(document.domain)",
		"encoded tab":            "/%09/" + evil + "/",
		"encoded slashes":        "/%2F%2F" + evil + "/",
		"encoded backslash":      "/%5C" + evil + "/",
		"double-encoded slashes": "/%252F%252F" + evil + "/",
		"dot segment":            "/.//" + evil + "/",
		"dot-dot segment":        "/a/..//" + evil + "/",
		"NUL":                    "/\x00/" + evil + "/",
		"C1 control":             "/\u0085/" + evil + "/",
		"leading space":          " //" + evil + "/",
	}
}

// TestSignInReturnToStaysOnOrigin: whatever return_to the sign-in page is given, in its link or in the
// form, after sign-in the browser is sent to a path of this server: the attacks to "/", a real page
// back to itself.
func TestSignInReturnToStaysOnOrigin(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		for name, attack := range returnToAttacks("evil.example") {
			t.Run(name, func(t *testing.T) {
				b := e.anonymous()
				csrf, carried := b.loginForm(attack)
				require.Equal(t, "/", carried, "the page carries the attack on")
				resp, _ := b.send("/login", url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"alice-password"}, "return_to": {attack}}, nil)
				require.Equal(t, http.StatusSeeOther, resp.StatusCode)
				require.Equal(t, "/", resp.Header.Get("Location"))
			})
		}
		t.Run("a page of the server", func(t *testing.T) {
			b := e.anonymous()
			const page = "/device?user_code=WDJB-MJHT"
			csrf, carried := b.loginForm(page)
			require.Equal(t, page, carried)
			resp, _ := b.send("/login", url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"alice-password"}, "return_to": {page}}, nil)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, page, resp.Header.Get("Location"))
		})
	})
}

// TestSignInRefusesCrossSitePosts: a sign-in POST without the sign-in page's CSRF token (a cross-site
// form, or a token of another browser's page) is refused with 403 even with the right password, and
// changes nothing: no session, no attempt counted.
func TestSignInRefusesCrossSitePosts(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, store server.Store) {
		other := e.anonymous()
		othersToken, _ := other.loginForm("/")
		withPage := e.anonymous()
		withPage.loginForm("/") // has a pre-session cookie of its own
		for name, tc := range map[string]struct {
			b    *browser
			csrf string
		}{
			"no cookie, no token":             {e.anonymous(), ""},
			"no cookie, another page's token": {e.anonymous(), othersToken},
			"cookie, no token":                {withPage, ""},
			"cookie, another page's token":    {withPage, othersToken},
			"cookie, made-up token":           {withPage, strings.Repeat("A", 43)},
		} {
			t.Run(name, func(t *testing.T) {
				form := url.Values{"username": {"alice"}, "password": {"alice-password"}, "return_to": {"/ciba"}}
				if tc.csrf != "" {
					form.Set("csrf", tc.csrf)
				}
				resp, page := tc.b.send("/login", form, http.Header{"Origin": {"https://evil.example"}})
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
				require.Contains(t, page, "was not sent from this site")
				for _, c := range resp.Cookies() {
					require.NotEqual(t, "grants_session", c.Name)
					require.False(t, strings.HasPrefix(c.Name, "grants_device_"), c.Name)
				}
				require.Empty(t, tc.b.signedInAs())
			})
		}
		n, err := store.GetAttempts(context.Background(), "signin-address|127.0.0.1", e.clock.Now(), 15*time.Minute)
		require.NoError(t, err)
		require.Zero(t, n, "refused forms count as attempts")

		// The page's own form, sent from the page, signs in.
		resp, _ := withPage.attempt("alice", "alice-password")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "alice", withPage.signedInAs())
	})
}

// TestPageFormsCheckCSRF: every form of the pages that changes something refuses a POST without the
// session's CSRF token with 403, and the session stays signed in (sign-out included). The consent page
// of /oauth2/auth shows itself again instead of issuing a code.
func TestPageFormsCheckCSRF(t *testing.T) {
	e := start(t, func(o *server.Options) {
		o.Reciprocal = server.ReciprocalOptions{Partner: "http://127.0.0.1:9", AllowLoopbackHTTP: true}
	})
	b := e.browser("staff", "staff-password")
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	forms := map[string]url.Values{
		"/logout":            {},
		"/device":            {"user_code": {"BCDF-GHJK"}, "action": {"approve"}},
		"/ciba":              {"auth_req_id": {"x"}, "action": {"approve"}},
		"/ciba/enroll":       {"user_code": {"BCDF-GHJK"}, "action": {"approve"}},
		"/kiosk":             {"request_id": {"x"}, "action": {"approve"}},
		"/device/deactivate": {"request_id": {"x"}},
		"/reciprocal/grant":  {},
		"/reciprocal/revoke": {},
		"/reciprocal/call":   {},
	}
	for path, form := range forms {
		t.Run(path, func(t *testing.T) {
			for _, token := range []string{"", strings.Repeat("A", 43)} {
				f := url.Values{"csrf": {token}}
				for k, v := range form {
					f[k] = v
				}
				resp, _ := b.send(path, f, nil)
				require.Equal(t, http.StatusForbidden, resp.StatusCode, "token %q", token)
				require.Equal(t, "staff", b.signedInAs())
			}
		})
	}
	t.Run("/oauth2/auth", func(t *testing.T) {
		q := url.Values{"client_id": {"demo-confidential"}, "redirect_uri": {"http://127.0.0.1:9999/callback"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"state-1234567890"}}
		resp, page := b.send("/oauth2/auth?"+q.Encode(), url.Values{"consent": {"allow"}, "csrf": {"wrong"}}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Empty(t, resp.Header.Get("Location"), "a code was issued")
		require.Contains(t, page, "Allow <b>demo-confidential</b>")
	})
	t.Run("/demo/kiosk", func(t *testing.T) {
		resp, _ := e.anonymous().send("/demo/kiosk", url.Values{"step": {"identify"}, "login_hint": {"1 Main St"}}, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
}

// TestSignOutEndsTheSession: after signing out, the session cookie no longer works anywhere, not even
// copied to another browser before; and a sign-out form without the session's token signs nobody out.
func TestSignOutEndsTheSession(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		b := e.browser("alice", "alice-password")
		copied := e.anonymous()
		cookie := sessionCookieOf(t, b)
		copied.c.Jar.SetCookies(mustURL(t, e.url), []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/"}})
		require.Equal(t, "alice", copied.signedInAs(), "the copy works while the session lasts")

		_, home := b.get("/")
		b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, _ := b.send("/logout", url.Values{"csrf": {csrfOf(t, home)}}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Empty(t, b.signedInAs())
		require.Empty(t, copied.signedInAs(), "the copied cookie still works after sign-out")
		status, _ := copied.get("/ciba")
		require.Equal(t, http.StatusSeeOther, status)

		// Signing in again gives a new session; the old cookie stays dead.
		b2 := e.browser("alice", "alice-password")
		require.NotEqual(t, cookie.Value, sessionCookieOf(t, b2).Value)
		require.Empty(t, copied.signedInAs())
	})
}

// TestSignInSessionsAreSharedAndSurviveRestarts: on the SQL stores, a session begun on one instance
// works on another sharing the database and on an instance started later; signing out on one ends it on
// all. Nothing a user did is lost on restart.
func TestSignInSessionsAreSharedAndSurviveRestarts(t *testing.T) {
	for _, k := range signInStores()[1:] {
		t.Run(k.name, func(t *testing.T) {
			dsn := k.dsn(t)
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			instance := func() *env {
				st := k.open(t, dsn)
				return start(t, func(o *server.Options) { o.Store, o.GlobalSecret = st, secret })
			}
			a, b := instance(), instance()
			alice := a.browser("alice", "alice-password")
			cookie := sessionCookieOf(t, alice)
			on := func(e *env) *browser {
				br := e.anonymous()
				br.c.Jar.SetCookies(mustURL(t, e.url), []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/"}})
				return br
			}
			require.Equal(t, "alice", on(b).signedInAs(), "the other instance")
			later := instance()
			require.Equal(t, "alice", on(later).signedInAs(), "an instance started later")

			atB := on(b)
			_, home := atB.get("/")
			atB.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, _ := atB.send("/logout", url.Values{"csrf": {csrfOf(t, home)}}, nil)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			for name, e := range map[string]*env{"a": a, "b": b, "later": later} {
				require.Empty(t, on(e).signedInAs(), "still signed in on %s", name)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

var csrfValueRE = regexp.MustCompile(`name="csrf" value="[^"]*"`)

// TestSignInAttemptsAreLimitedPerAccount: ten attempts per 15 minutes at one account name from
// browsers it does not know; the eleventh, even with the right password, answers 429 with when to try
// again. A name that is no account gets exactly the same answers. A browser that signed in to the
// account before still signs in, and after the window anyone can.
func TestSignInAttemptsAreLimitedPerAccount(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		owners := e.browser("alice", "alice-password") // alice's own browser, known to her account
		var answers [2][]string
		for i, account := range []string{"alice", "no-such-user"} {
			for n := 1; n <= 10; n++ {
				resp, page := e.anonymous().attempt(account, fmt.Sprintf("guess-%d", n))
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s attempt %d", account, n)
				answers[i] = append(answers[i], csrfValueRE.ReplaceAllString(page, ""))
			}
			resp, page := e.anonymous().attempt(account, account+"-password")
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, account)
			require.Equal(t, "900", resp.Header.Get("Retry-After"))
			require.Contains(t, page, "Try again in 15 minutes (after "+e.clock.Now().Add(15*time.Minute).UTC().Format("15:04 UTC")+")")
			require.NotContains(t, page, account)
			answers[i] = append(answers[i], page)
		}
		require.Equal(t, answers[0], answers[1], "an unknown name is answered differently")

		resp, _ := owners.attempt("alice", "alice-password")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the owner's browser is locked out")
		other := e.browser("bob", "bob-password") // another account is not affected
		require.Equal(t, "bob", other.signedInAs())

		e.clock.Add(15 * time.Minute)
		resp, _ = e.anonymous().attempt("alice", "alice-password")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "still limited after the window")
	})
}

// TestSignInAttemptsAreLimitedPerAddress: fifty failures per 15 minutes from one address at accounts
// that do not know the browser, whatever the names; then every new browser there gets 429, and the
// owners' own browsers still sign in. Successful sign-ins do not count.
func TestSignInAttemptsAreLimitedPerAddress(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		owners := e.browser("bob", "bob-password")
		for n := 1; n <= 50; n++ {
			resp, _ := e.anonymous().attempt(fmt.Sprintf("user-%d", n), "guess")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d", n)
		}
		resp, page := e.anonymous().attempt("alice", "alice-password")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.Contains(t, page, "Try again in 15 minutes")
		resp, _ = owners.attempt("bob", "bob-password")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the owner's browser is locked out by the address limit")

		e.clock.Add(15 * time.Minute)
		resp, _ = e.anonymous().attempt("alice", "alice-password")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})
}

// TestSuccessfulSignInsAreNotCounted: a person who signs in from many new browsers (or many people
// behind one address) is not taken for a guesser.
func TestSuccessfulSignInsAreNotCounted(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		for n := 1; n <= 60; n++ {
			resp, _ := e.anonymous().attempt("carol", "carol-password")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, "sign-in %d", n)
		}
	})
}

// TestKnownBrowserFailuresAreLimited: a browser known to an account is exempt from the account's limit,
// but only for ten wrong passwords per 15 minutes (a stolen known-device cookie is no free pass); then
// it is treated like any other browser.
func TestKnownBrowserFailuresAreLimited(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		known := e.browser("alice", "alice-password")
		for n := 1; n <= 11; n++ { // exhaust the account from unknown browsers
			e.anonymous().attempt("alice", "guess")
		}
		for n := 1; n <= 10; n++ {
			resp, _ := known.attempt("alice", "guess")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d", n)
		}
		resp, _ := known.attempt("alice", "alice-password")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	})
}

// TestSignInFormRefusesBadInput: empty, over-long or control-character names get 400 and count nothing.
func TestSignInFormRefusesBadInput(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, store server.Store) {
		for name, tc := range map[string][2]string{
			"empty name":           {"", "x"},
			"empty password":       {"alice", ""},
			"NUL in name":          {"ali\x00ce", "x"},
			"invalid UTF-8 name":   {"\xff", "x"},
			"long name":            {strings.Repeat("a", 257), "x"},
			"long password":        {"alice", strings.Repeat("a", 1025)},
			"newline in name":      {"alice\n", "x"},
			"invalid UTF-8 secret": {"alice", "\xff"},
		} {
			t.Run(name, func(t *testing.T) {
				resp, _ := e.anonymous().attempt(tc[0], tc[1])
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			})
		}
		n, err := store.GetAttempts(context.Background(), "signin-address|127.0.0.1", e.clock.Now(), 15*time.Minute)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

// TestSimultaneousGuessesDoNotPassTheLimit: thirty wrong passwords sent at once from thirty new
// browsers get exactly ten 401s; the rest 429. Attempts are counted before the password is compared,
// in one atomic store operation.
func TestSimultaneousGuessesDoNotPassTheLimit(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		const n = 30
		type ready struct {
			b    *browser
			csrf string
		}
		browsers := make([]ready, n)
		for i := range browsers {
			b := e.anonymous()
			csrf, _ := b.loginForm("/")
			browsers[i] = ready{b, csrf}
		}
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for _, r := range browsers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := r.b.send("/login", url.Values{"csrf": {r.csrf}, "username": {"alice"}, "password": {"guess"}, "return_to": {"/"}}, nil)
				statuses <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for s := range statuses {
			counts[s]++
		}
		require.Equal(t, map[int]int{http.StatusUnauthorized: 10, http.StatusTooManyRequests: 20}, counts)
	})
}

// TestKnownDeviceCookieMustBeGenuine: a known-device cookie that was altered, or is older than 30 days
// of the server's clock, exempts nothing.
func TestKnownDeviceCookieMustBeGenuine(t *testing.T) {
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		known := e.browser("alice", "alice-password")
		var device *http.Cookie
		for _, c := range known.c.Jar.Cookies(mustURL(t, e.url)) {
			if strings.HasPrefix(c.Name, "grants_device_") {
				device = c
			}
		}
		require.NotNil(t, device, "no known-device cookie after sign-in")
		for n := 1; n <= 11; n++ {
			e.anonymous().attempt("alice", "guess")
		}
		with := func(value string) *browser {
			b := e.anonymous()
			b.c.Jar.SetCookies(mustURL(t, e.url), []*http.Cookie{{Name: device.Name, Value: value, Path: "/"}})
			return b
		}
		resp, _ := with(device.Value).attempt("alice", "alice-password")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a genuine copy is honoured")
		id, rest, _ := strings.Cut(device.Value, ".")
		altered := strings.Repeat("A", len(id)) + "." + rest
		resp, _ = with(altered).attempt("alice", "alice-password")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "an altered cookie is honoured")

		e.clock.Add(30 * 24 * time.Hour)
		for n := 1; n <= 11; n++ {
			e.anonymous().attempt("alice", "guess")
		}
		resp, _ = with(device.Value).attempt("alice", "alice-password")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "an expired cookie is honoured")
	})
}

// TestSignInCookiesOnHTTPS: with an https issuer every sign-in cookie is __Host- prefixed, Secure,
// HttpOnly, SameSite=Lax and host-only with Path=/, so that no other host can plant or read one.
func TestSignInCookiesOnHTTPS(t *testing.T) {
	srv, err := server.New(context.Background(), server.Options{Issuer: "https://login.example", AdminToken: adminToken})
	require.NoError(t, err)
	do := func(req *http.Request, cookies []*http.Cookie) *http.Response {
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Result()
	}
	page := do(httptest.NewRequest(http.MethodGet, "https://login.example/login", nil), nil)
	require.Equal(t, http.StatusOK, page.StatusCode)
	body, err := io.ReadAll(page.Body)
	require.NoError(t, err)
	form := url.Values{"csrf": {csrfOf(t, string(body))}, "username": {"alice"}, "password": {"alice-password"}, "return_to": {"/"}}
	req := httptest.NewRequest(http.MethodPost, "https://login.example/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := do(req, page.Cookies())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	for _, c := range append(page.Cookies(), resp.Cookies()...) {
		require.True(t, strings.HasPrefix(c.Name, "__Host-grants_"), c.Name)
		require.True(t, c.Secure, c.Name)
		require.True(t, c.HttpOnly, c.Name)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite, c.Name)
		require.Equal(t, "/", c.Path, c.Name)
		require.Empty(t, c.Domain, c.Name)
	}
	require.Len(t, resp.Cookies(), 3, "session, pre-session cleared, known device")
}

// TestRestartKeepsSignIns: the example binary on SQLite, killed with SIGKILL and started again, still
// knows who was signed in, still refuses an account whose limit was reached, and a sign-out after the
// restart ends the session.
func TestRestartKeepsSignIns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example binary")
	}
	t.Parallel()
	addr := freeAddr(t)
	args := []string{"-addr", addr, "-db", filepath.Join(t.TempDir(), "grants.db"), "-admin-token", adminToken}
	e := &env{t: t, url: "http://" + addr}

	first := startProcess(t, args...)
	alice := e.browser("alice", "alice-password")
	for n := 1; n <= 10; n++ {
		resp, _ := e.anonymous().attempt("bob", "guess")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	first.kill()
	startProcess(t, args...)

	require.Equal(t, "alice", alice.signedInAs(), "the session was lost")
	resp, _ := e.anonymous().attempt("bob", "bob-password")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the attempt count was lost")

	_, home := alice.get("/")
	resp, _ = alice.send("/logout", url.Values{"csrf": {csrfOf(t, home)}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Empty(t, alice.signedInAs())
}

// BenchmarkSignIn measures, through the example's router in process, a sign-in (sign-in form POST from
// a browser known to the account: counters, password, new session) and a signed-in page view (one
// session read), per store.
//
//	go test -run x -bench SignIn -benchmem ./integration/
func BenchmarkSignIn(b *testing.B) {
	for _, k := range []string{"memory", "sqlite"} {
		b.Run(k, func(b *testing.B) {
			opts := server.Options{Issuer: "http://bench.local", AdminToken: adminToken}
			if k == "sqlite" {
				s, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close() })
				opts.Store = s
			}
			srv, err := server.New(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			jar, _ := cookiejar.New(nil)
			base, _ := url.Parse("http://bench.local/")
			do := func(req *http.Request) *http.Response {
				for _, c := range jar.Cookies(base) {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				resp := rec.Result()
				jar.SetCookies(base, resp.Cookies())
				return resp
			}
			page := do(httptest.NewRequest(http.MethodGet, "http://bench.local/login", nil))
			body, _ := io.ReadAll(page.Body)
			csrf := csrfRE.FindStringSubmatch(string(body))[1]
			form := url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"alice-password"}, "return_to": {"/"}}.Encode()
			signIn := func() {
				req := httptest.NewRequest(http.MethodPost, "http://bench.local/login", strings.NewReader(form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: "grants_login", Value: page.Cookies()[0].Value})
				if resp := do(req); resp.StatusCode != http.StatusSeeOther {
					b.Fatalf("sign-in answered %d", resp.StatusCode)
				}
			}
			signIn()
			b.Run("sign-in", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					signIn()
				}
			})
			b.Run("signed-in page", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if resp := do(httptest.NewRequest(http.MethodGet, "http://bench.local/ciba", nil)); resp.StatusCode != http.StatusOK {
						b.Fatalf("page answered %d", resp.StatusCode)
					}
				}
			})
		})
	}
}
