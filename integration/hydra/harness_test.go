package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

const (
	adminToken = "test-admin-token"
	testSecret = "a-system-secret-of-at-least-32-characters"
)

// postgresEnv names the environment variable that turns the PostgreSQL tests on.
const postgresEnv = "GRANTS_TEST_POSTGRES_DSN"

// backend makes a fresh, empty database of one kind for a server.
type backend struct {
	name  string
	fresh func(t *testing.T) string
}

var (
	sqliteBackend   = backend{name: "sqlite", fresh: func(t *testing.T) string { return filepath.Join(t.TempDir(), "hydra.db") }}
	postgresBackend = backend{name: "postgres", fresh: freshPostgres}
	backends        = []backend{sqliteBackend, postgresBackend}
)

// freshPostgres creates a database of its own for the test on the server GRANTS_TEST_POSTGRES_DSN names
// (Hydra's migrations and this module's both run in it, as in production) and drops it afterwards. It
// skips the test when the variable is not set.
func freshPostgres(t *testing.T) string {
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests are off: set %s=postgres://user:password@host:port/db", postgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hydra_test_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		require.NoError(t, err)
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// clock is the grants' clock in tests: it starts at the real time and moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a running server and what the tests need to talk to it.
type env struct {
	t     *testing.T
	srv   *Server
	url   string
	db    string
	clock *clock
}

// start runs the server on a fresh database of backend b, on a loopback port, until the test ends.
func start(t *testing.T, b backend) *env {
	t.Helper()
	db := b.fresh(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	issuer := "http://" + ln.Addr().String()
	c := &clock{now: time.Now()}
	srv, err := New(context.Background(), Options{
		Issuer: issuer, DB: db, Secret: testSecret, AdminToken: adminToken, Dev: true,
		PollingInterval: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now,
		HydraLogLevel: "fatal", // the failure tests make Hydra log errors on purpose
	})
	if err != nil {
		_ = ln.Close()
	}
	require.NoError(t, err)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = hs.Close()
		_ = srv.Close()
	})
	return &env{t: t, srv: srv, url: issuer, db: db, clock: c}
}

// forEachBackend runs fn with a server on each backend, as parallel subtests of a parallel test.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, start(t, b))
		})
	}
}

// post sends a form, with HTTP Basic client credentials when user is set, and decodes the JSON answer.
func (e *env) post(path string, form url.Values, user, password string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	return e.do(req)
}

// admin calls the admin API with the admin token.
func (e *env) admin(path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	var m map[string]any
	require.NoError(e.t, json.Unmarshal(b, &m), "body: %s", b)
	return res.StatusCode, m
}

// introspect asks Hydra's admin introspection endpoint about token.
func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	status, body := e.admin("/admin/oauth2/introspect", url.Values{"token": {token}})
	require.Equal(e.t, http.StatusOK, status, "%v", body)
	return body
}

// pollDevice makes one device-grant token request.
func (e *env) pollDevice(clientID, deviceCode string) (int, map[string]any) {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {clientID}, "device_code": {deviceCode},
	}, "", "")
}

// oauth2Config is golang.org/x/oauth2's configuration for a client of the server.
func (e *env) oauth2Config(clientID, secret string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: e.url + "/oauth2/auth", TokenURL: e.url + "/oauth2/token", DeviceAuthURL: e.url + "/oauth2/device/auth",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// userinfo calls Hydra's userinfo endpoint with an access token.
func (e *env) userinfo(token string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/userinfo", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// verifyIDToken checks an ID token's signature against Hydra's published keys and returns its claims.
func (e *env) verifyIDToken(raw string) map[string]any {
	e.t.Helper()
	res, err := http.Get(e.url + "/.well-known/jwks.json")
	require.NoError(e.t, err)
	defer res.Body.Close()
	var keys jose.JSONWebKeySet
	require.NoError(e.t, json.NewDecoder(res.Body).Decode(&keys))
	tok, err := jwt.ParseSigned(raw)
	require.NoError(e.t, err)
	require.Len(e.t, tok.Headers, 1)
	ks := keys.Key(tok.Headers[0].KeyID)
	require.NotEmpty(e.t, ks, "the ID token's key is among Hydra's published keys")
	var claims map[string]any
	require.NoError(e.t, tok.Claims(ks[0].Key, &claims))
	return claims
}

// browser is a cookie-keeping HTTP client that does not follow redirects by itself.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// follow requests u and follows redirects, returning the last response's status, URL and body.
func (b *browser) follow(req *http.Request) (int, *url.URL, string) {
	b.t.Helper()
	for i := 0; i < 20; i++ {
		res, err := b.client.Do(req)
		require.NoError(b.t, err)
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode/100 != 3 {
			return res.StatusCode, req.URL, string(body)
		}
		next, err := req.URL.Parse(res.Header.Get("Location"))
		require.NoError(b.t, err)
		req, err = http.NewRequest(http.MethodGet, next.String(), nil)
		require.NoError(b.t, err)
	}
	b.t.Fatal("too many redirects")
	return 0, nil, ""
}

func (b *browser) get(u string) (int, *url.URL, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	return b.follow(req)
}

func (b *browser) postForm(u string, form url.Values) (int, *url.URL, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.follow(req)
}

// hidden returns the value of the hidden input name in page.
func hidden(t *testing.T, page, name string) string {
	t.Helper()
	marker := `name="` + name + `" value="`
	i := strings.Index(page, marker)
	require.GreaterOrEqual(t, i, 0, "no hidden %s in %s", name, page)
	v := page[i+len(marker):]
	return v[:strings.IndexByte(v, '"')]
}
