package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/notify"
)

// exampleServer runs the bundled example server on a loopback listener with a clock the test moves.
func exampleServer(t *testing.T, clk *testClock, msgs chan notify.Message) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	opts := server.Options{Issuer: issuer, AdminToken: "admin", SigningKey: testKey(), Now: clk.Now}
	if msgs != nil {
		opts.Sender = notify.SenderFunc(func(_ context.Context, m notify.Message) error { msgs <- m; return nil })
	}
	srv, err := server.New(context.Background(), opts)
	require.NoError(t, err)
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return issuer
}

// TestDeviceAgainstExampleServer runs `client device` against the real example server: the client
// shows the time left and its checks, polls too soon once and shows the server's slow_down as a note
// with the new interval, and gets the tokens once the request is approved (through the admin API).
func TestDeviceAgainstExampleServer(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	issuer := exampleServer(t, clk, nil)
	var mu sync.Mutex
	sleeps := 0
	out := &watchWriter{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- runDevice(context.Background(), deviceOptions{
			Issuer: issuer, ClientID: "demo-device", AuthMethod: "client_secret_basic", Scopes: []string{"openid", "offline_access"},
			Now: clk.Now,
			Sleep: func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				sleeps++
				if sleeps != 2 { // the second wait is cut short: the client polls too soon once
					clk.Add(d)
				}
				return ctx.Err()
			},
		}, out)
	}()
	code := out.await(t, regexp.MustCompile(`enter the code: ([A-Z]{4}-[A-Z]{4})`))
	out.await(t, regexp.MustCompile(`(Note: The server asked us to check less often; now every 10 s\.)`))
	req, _ := http.NewRequest(http.MethodPost, issuer+"/admin/device/approve", strings.NewReader(url.Values{"user_code": {code}, "subject": {"alice"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer admin")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, <-done, out.String())
	text := out.String()
	require.Contains(t, text, "Waiting for approval: 10 min 00 s left, 0 checks, checking every 5 s")
	require.Contains(t, text, "1 check, checking every 5 s, not approved yet")
	require.Contains(t, text, "2 checks, checking every 10 s, asked to slow down")
	require.Contains(t, text, `"access_token"`)
}

// TestFailuresAreSentences: what a person sees when something goes wrong is one sentence that says
// what to do, for each command, against the real example server (or none at all).
func TestFailuresAreSentences(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	issuer := exampleServer(t, clk, nil)
	const down = "http://127.0.0.1:1"
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"device, server down": {[]string{"device", "-issuer", down}, "client: Cannot reach the server at http://127.0.0.1:1: is it running? Start it with `go run ./example`, or pass -issuer with its address.\n"},
		"ciba, server down":   {[]string{"ciba", "-issuer", down, "-login-hint", "alice"}, "client: Cannot reach the server at http://127.0.0.1:1: is it running?"},
		"otp, server down":    {[]string{"otp", "-issuer", down, "-login-hint", "1 Main St"}, "client: Cannot reach the server at http://127.0.0.1:1: is it running?"},
		"device, wrong secret": {[]string{"device", "-issuer", issuer, "-client-id", "demo-confidential", "-client-secret", "guess"},
			"client: The server did not accept this client's credentials; check -client-id and -client-secret (the demo secrets are in the README). (invalid_client)\n"},
		"ciba, wrong secret": {[]string{"ciba", "-issuer", issuer, "-login-hint", "alice", "-client-secret", "guess"},
			"client: The server did not accept this client's credentials; check -client-id and -client-secret"},
		"otp, wrong secret": {[]string{"otp", "-issuer", issuer, "-login-hint", "1 Main St", "-client-secret", "guess"},
			"client: The server did not accept this client's credentials; check -client-id and -client-secret"},
		"not an issuer": {[]string{"device", "-issuer", issuer + "/nope"}, "has no discovery document (GET " + issuer + "/nope/.well-known/openid-configuration answered 404 Not Found); check -issuer."},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			require.Equal(t, 1, run(context.Background(), tc.args, &stdout, &stderr), stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			msg := strings.TrimPrefix(strings.TrimSpace(stderr.String()), "client: ")
			require.NotContains(t, msg, "\n", "one sentence on one line")
			require.NotContains(t, msg, "dial tcp")
			require.NotContains(t, msg, "The provided authorization grant")
			require.Regexp(t, `^[A-Z].*[.)]$`, msg, "a sentence")
		})
	}
}

// TestOTPPrompts: an answer that is not one of the choices is refused with a word on why, an empty
// answer is asked again and never sent (the server still counts 4 tries left after the first wrong
// code), and five wrong codes end in one sentence saying to start again.
func TestOTPPrompts(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	msgs := make(chan notify.Message, 4)
	issuer := exampleServer(t, clk, msgs)
	stdin, typist := io.Pipe()
	out := &watchWriter{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- runOTP(context.Background(), otpOptions{Issuer: issuer, ClientID: "demo-kiosk", ClientSecret: server.DemoKioskSecret,
			LoginHint: "ACCT-1002", Scopes: []string{"openid"}, In: stdin}, out)
	}()
	_, err := io.WriteString(typist, "7\n\nfax\n2\n")
	require.NoError(t, err)
	<-msgs
	_, err = io.WriteString(typist, "\n   \n000000\n")
	require.NoError(t, err)
	out.await(t, regexp.MustCompile(`(That code is not right; 4 tries left\.)`))
	_, err = io.WriteString(typist, "000000\n000000\n000000\n000000\n")
	require.NoError(t, err)
	err = <-done
	require.EqualError(t, err, "Too many wrong codes: this code no longer works; run the command again to get a new one. (invalid_grant)")
	text := out.String()
	require.Contains(t, text, `"7" is not one of the choices: type a number from 1 to 2.`)
	require.Contains(t, text, `"fax" is not one of the choices`)
	require.Contains(t, text, "Type a number from the list, then press Enter.")
	require.Contains(t, text, "Type the code from the message, then press Enter.")
	require.Equal(t, 2, strings.Count(text, "Type the code from the message"), "both empty answers were asked again")
	require.Contains(t, text, "1 try left")
}
