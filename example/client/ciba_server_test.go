package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net"
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

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/internal/qrcode"
	"github.com/fosite-contrib/grants/notify"
)

// testKey signs the ID tokens of every example server of these tests (RSA key generation is slow).
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testClock is the example server's injected clock; the client's Sleep moves it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// watchWriter collects the client's output and tells a waiter when a pattern shows up.
type watchWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	wrote chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *watchWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

// await waits until the output matches re and returns the first submatch.
func (w *watchWriter) await(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.After(30 * time.Second) // a deadline for a hung test, not a timing assertion
	for {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m[1]
		}
		select {
		case <-w.wrote:
		case <-deadline:
			t.Fatalf("output never matched %s:\n%s", re, w.String())
		}
	}
}

var (
	linkInMail = regexp.MustCompile(`(http://\S+/ciba/link/[A-Za-z0-9_-]+)`)
	userCodeRE = regexp.MustCompile(`enter the code: ([A-Z]{4}-[A-Z]{4})`)
	csrfRE     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestCIBAAgainstTheExampleServer runs the ciba subcommand's code against the bundled example
// server, as `go run ./example/client ciba -mode poll|ping|push -login-hint alice|bob` does: alice
// approves through the link she is mailed; bob, who has no device, enrols at the page the client
// shows.
func TestCIBAAgainstTheExampleServer(t *testing.T) {
	t.Parallel()
	cases := []struct{ mode, user string }{
		{"poll", "alice"}, {"ping", "alice"}, {"push", "alice"}, {"poll", "bob"}, {"push", "bob"},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+tc.user, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			cb := "http://" + ln.Addr().String() + "/cb"
			clk := &testClock{t: time.Now()}
			mails := make(chan notify.Message, 4)
			ts := httptest.NewUnstartedServer(nil)
			issuer := "http://" + ts.Listener.Addr().String()
			srv, err := server.New(context.Background(), server.Options{
				Issuer: issuer, AdminToken: "admin", Now: clk.Now, SigningKey: testKey(),
				Dev:    true, // the ping and push callbacks go to loopback http, which only development allows
				Sender: notify.SenderFunc(func(_ context.Context, m notify.Message) error { mails <- m; return nil }),
				CIBA:   server.CIBAOptions{PingEndpoint: cb, PushEndpoint: cb},
			})
			require.NoError(t, err)
			ts.Config.Handler = srv
			ts.Start()
			t.Cleanup(ts.Close)

			out := &watchWriter{wrote: make(chan struct{}, 1)}
			done := make(chan error, 1)
			go func() {
				done <- runCIBA(context.Background(), cibaOptions{
					Issuer: issuer, ClientID: "demo-ciba-" + tc.mode, ClientSecret: server.DemoCIBASecret, Mode: tc.mode,
					Scopes: []string{"openid", "profile", "offline_access"}, LoginHint: tc.user, CallbackPath: "/cb", Listener: ln,
					Sleep: func(ctx context.Context, d time.Duration) error { clk.Add(d); return ctx.Err() },
				}, out)
			}()

			if tc.user == "alice" {
				m := <-mails
				link := linkInMail.FindStringSubmatch(m.Text)[1]
				resp, err := http.PostForm(link, url.Values{"token": {link[strings.LastIndexByte(link, '/')+1:]}, "action": {"approve"}})
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
			} else {
				code := out.await(t, userCodeRE)
				require.Contains(t, out.String(), issuer+"/ciba/enroll?user_code="+code)
				enrol(t, issuer, code)
			}
			require.NoError(t, <-done, out.String())
			require.Contains(t, out.String(), `"access_token"`)
			require.Contains(t, out.String(), `"id_token"`)
			require.Contains(t, out.String(), `"refresh_token"`)
			if tc.user == "bob" {
				require.Contains(t, out.String(), qrcode.Terminal(issuer+"/ciba/enroll?user_code="+userCodeRE.FindStringSubmatch(out.String())[1]))
			}
		})
	}
}

// enrol signs bob in at the example's enrolment page and approves the request with that code.
func enrol(t *testing.T, issuer, code string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	returnTo := "/ciba/enroll?user_code=" + code
	resp, err := c.Get(issuer + "/login?return_to=" + url.QueryEscape(returnTo))
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loginCSRF := csrfRE.FindStringSubmatch(string(page))
	require.NotNil(t, loginCSRF, "no CSRF token on the sign-in page")
	resp, err = c.PostForm(issuer+"/login", url.Values{"csrf": {loginCSRF[1]}, "username": {"bob"}, "password": {"bob-password"}, "return_to": {returnTo}})
	require.NoError(t, err)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), code)
	csrf := csrfRE.FindStringSubmatch(string(page))
	require.NotNil(t, csrf)
	resp, err = c.PostForm(issuer+"/ciba/enroll", url.Values{"csrf": {csrf[1]}, "user_code": {code}, "action": {"approve"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
