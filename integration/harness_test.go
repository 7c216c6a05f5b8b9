package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/example/server"
)

const adminToken = "integration-admin-token"

// clock is the server's injected clock: tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type env struct {
	t     *testing.T
	url   string
	srv   *server.Server
	clock *clock
}

// start runs the example server's router on a loopback listener.
func start(t *testing.T, options ...func(*server.Options)) *env {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	c := &clock{t: time.Now()}
	opts := server.Options{Issuer: base, AdminToken: adminToken, Now: c.Now, DevicePollingInterval: time.Second, Dev: true}
	for _, o := range options {
		o(&opts)
	}
	srv, err := server.New(context.Background(), opts)
	require.NoError(t, err)
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{t: t, url: base, srv: srv, clock: c}
}

func (e *env) oauth2Config(clientID, secret string, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if secret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: e.url + "/oauth2/device/auth",
			TokenURL:      e.url + "/oauth2/token",
			AuthStyle:     style,
		},
	}
}

// post sends a form and decodes the JSON answer.
func (e *env) post(path string, form url.Values, header http.Header) (int, map[string]interface{}) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]interface{}) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	var m map[string]interface{}
	require.NoError(e.t, json.Unmarshal(body, &m), "body: %s", body)
	return resp.StatusCode, m
}

func (e *env) admin(path string, form url.Values) (int, map[string]interface{}) {
	return e.post(path, form, http.Header{"Authorization": {"Bearer " + adminToken}})
}

func (e *env) poll(clientID, deviceCode string) (int, map[string]interface{}) {
	return e.post("/oauth2/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {clientID}, "device_code": {deviceCode},
	}, nil)
}

// browser is a person with a cookie jar using the pages.
type browser struct {
	t *testing.T
	c *http.Client
	e *env
}

func (e *env) browser(user, password string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	b := &browser{t: e.t, e: e, c: &http.Client{Jar: jar}}
	status, _ := b.signIn(user, password, "/")
	require.Equal(e.t, http.StatusOK, status)
	return b
}

// signIn opens the sign-in page and sends its form (with the page's CSRF token), following redirects.
func (b *browser) signIn(user, password, returnTo string) (int, string) {
	b.t.Helper()
	status, page := b.get("/login?return_to=" + url.QueryEscape(returnTo))
	require.Equal(b.t, http.StatusOK, status)
	return b.postForm("/login", url.Values{"csrf": {csrfOf(b.t, page)}, "username": {user}, "password": {password}, "return_to": {returnTo}})
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.e.url + path)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(body)
}

func (b *browser) postForm(path string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.e.url+path, form)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, m, "no CSRF token in page")
	return m[1]
}
