package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/qrcode"
)

const (
	testDeviceCode = "device-code-123"
	testUserCode   = "WDJB-MJHT"
)

// answer is one scripted token endpoint response.
type answer struct {
	status int
	body   map[string]any
}

func oauthError(code string) answer {
	return answer{status: http.StatusBadRequest, body: map[string]any{"error": code}}
}

var tokens = answer{status: http.StatusOK, body: map[string]any{
	"access_token":  "at-1",
	"token_type":    "bearer",
	"refresh_token": "rt-1",
	"id_token":      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln",
	"expires_in":    3600,
	"scope":         "openid profile offline_access",
}}

// deviceServer speaks just enough RFC 8628 and OpenID Connect Discovery for
// the client: discovery, the device authorization endpoint (§3.1, §3.2) and
// the token endpoint answering from a script (§3.4, §3.5).
type deviceServer struct {
	t   *testing.T
	srv *httptest.Server

	clientID   string
	secret     string // when set, client authentication is required
	authMethod string // "client_secret_basic" or "client_secret_post"
	noDevice   bool   // leave device_authorization_endpoint out of discovery
	issuer     string // overrides the issuer in discovery
	expiresIn  int
	script     []answer // the last answer repeats

	mu    sync.Mutex
	polls int
	// polled receives a value after every token request.
	polled chan int
}

func newDeviceServer(t *testing.T, configure func(*deviceServer)) *deviceServer {
	t.Helper()
	s := &deviceServer{t: t, clientID: "demo-device", expiresIn: 600, polled: make(chan int, 100)}
	if configure != nil {
		configure(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("POST /oauth2/device/auth", s.deviceAuth)
	mux.HandleFunc("POST /oauth2/token", s.token)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *deviceServer) discovery(w http.ResponseWriter, r *http.Request) {
	md := map[string]string{
		"issuer":         s.srv.URL,
		"token_endpoint": s.srv.URL + "/oauth2/token",
	}
	if s.issuer != "" {
		md["issuer"] = s.issuer
	}
	if !s.noDevice {
		md["device_authorization_endpoint"] = s.srv.URL + "/oauth2/device/auth"
	}
	writeJSON(w, http.StatusOK, md)
}

// authenticated checks client authentication (RFC 6749 §2.3.1).
func (s *deviceServer) authenticated(r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		return false
	}
	if s.secret == "" {
		return r.PostForm.Get("client_id") == s.clientID
	}
	if s.authMethod == "client_secret_post" {
		return r.PostForm.Get("client_id") == s.clientID && r.PostForm.Get("client_secret") == s.secret
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
	return id == formEncode(s.clientID) && secret == formEncode(s.secret)
}

func (s *deviceServer) deviceAuth(w http.ResponseWriter, r *http.Request) {
	if !s.authenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error": "invalid_client", "error_description": "Client authentication failed.",
		})
		return
	}
	if got := r.PostForm.Get("scope"); got != "openid profile offline_access" {
		s.t.Errorf("device authorization request scope = %q", got)
	}
	verification := s.srv.URL + "/device"
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               testDeviceCode,
		"user_code":                 testUserCode,
		"verification_uri":          verification,
		"verification_uri_complete": verification + "?user_code=" + testUserCode,
		"expires_in":                s.expiresIn,
		"interval":                  1, // x/oauth2 counts in whole seconds
	})
}

func (s *deviceServer) token(w http.ResponseWriter, r *http.Request) {
	if !s.authenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" ||
		r.PostForm.Get("device_code") != testDeviceCode {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
		return
	}
	s.mu.Lock()
	a := s.script[min(s.polls, len(s.script)-1)]
	s.polls++
	n := s.polls
	s.mu.Unlock()
	writeJSON(w, a.status, a.body)
	s.polled <- n
}

func (s *deviceServer) pollCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func formEncode(s string) string {
	return strings.NewReplacer("%", "%25", ":", "%3A", "/", "%2F", "+", "%2B", " ", "+").Replace(s)
}

func defaultOptions(s *deviceServer) deviceOptions {
	clk := &testClock{t: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	return deviceOptions{
		Issuer:     s.srv.URL,
		ClientID:   "demo-device",
		AuthMethod: "client_secret_basic",
		Scopes:     []string{"openid", "profile", "offline_access"},
		Now:        clk.Now,
		Sleep:      func(ctx context.Context, d time.Duration) error { clk.Add(d); return ctx.Err() },
	}
}

func TestRunDevice(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name      string
		configure func(*deviceServer)
		options   func(*deviceOptions)
		wantErr   string // prefix of the error; empty for success
		wantPolls int
		wantOut   []string
	}{
		{
			name: "approved after two pending polls",
			configure: func(s *deviceServer) {
				s.script = []answer{oauthError("authorization_pending"), oauthError("authorization_pending"), tokens}
			},
			wantPolls: 3,
		},
		{
			name: "slowed down",
			configure: func(s *deviceServer) {
				s.script = []answer{oauthError("authorization_pending"), oauthError("slow_down"), tokens}
			},
			wantPolls: 3,
			wantOut: []string{"Waiting for approval: 9 min 59 s left, 1 check, checking every 1 s, not approved yet",
				"Note: The server asked us to check less often; now every 6 s.",
				"Waiting for approval: 9 min 52 s left, 3 checks, checking every 6 s, approved"},
		},
		{
			name:      "user declines",
			configure: func(s *deviceServer) { s.script = []answer{oauthError("access_denied")} },
			wantErr:   "The request was denied on the approval page, so nothing was granted; run the command again to ask once more. (access_denied)",
			wantPolls: 1,
		},
		{
			name:      "server says the code expired",
			configure: func(s *deviceServer) { s.script = []answer{oauthError("expired_token")} },
			wantErr:   "The request expired before anyone approved it; run the command again to get a new one. (expired_token)",
			wantPolls: 1,
		},
		{
			name: "code expires while waiting",
			configure: func(s *deviceServer) {
				s.expiresIn = 2
				s.script = []answer{oauthError("authorization_pending")}
			},
			wantErr:   "The request expired before anyone approved it; run the command again to get a new one. (expired_token)",
			wantPolls: 1, // at 1 s; at 2 s the code has expired, and the client says so without asking
		},
		{
			name: "confidential client with client_secret_basic",
			configure: func(s *deviceServer) {
				s.clientID, s.secret, s.authMethod = "tv", "s3cr:t/+ x%", "client_secret_basic"
				s.script = []answer{tokens}
			},
			options:   func(o *deviceOptions) { o.ClientID, o.ClientSecret = "tv", "s3cr:t/+ x%" },
			wantPolls: 1,
		},
		{
			name: "confidential client with client_secret_post",
			configure: func(s *deviceServer) {
				s.clientID, s.secret, s.authMethod = "tv", "s3cret", "client_secret_post"
				s.script = []answer{tokens}
			},
			options: func(o *deviceOptions) {
				o.ClientID, o.ClientSecret, o.AuthMethod = "tv", "s3cret", "client_secret_post"
			},
			wantPolls: 1,
		},
		{
			name: "wrong client secret",
			configure: func(s *deviceServer) {
				s.clientID, s.secret, s.authMethod = "tv", "s3cret", "client_secret_basic"
				s.script = []answer{tokens}
			},
			options: func(o *deviceOptions) { o.ClientID, o.ClientSecret = "tv", "guess" },
			wantErr: "The server did not accept this client's credentials; check -client-id and -client-secret (the demo secrets are in the README). (invalid_client)",
		},
		{
			name:      "server without the device grant",
			configure: func(s *deviceServer) { s.noDevice = true },
			wantErr:   "The server at http://127.0.0.1:",
		},
		{
			name:      "issuer mismatch",
			configure: func(s *deviceServer) { s.issuer = "https://elsewhere.example" },
			wantErr:   `The server calls itself "https://elsewhere.example"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newDeviceServer(t, tc.configure)
			opts := defaultOptions(s)
			if tc.options != nil {
				tc.options(&opts)
			}
			var out bytes.Buffer
			err := runDevice(context.Background(), opts, &out)

			if tc.wantPolls >= 0 {
				require.Equal(t, tc.wantPolls, s.pollCount())
			}
			if tc.wantErr != "" {
				require.Error(t, err)
				require.True(t, strings.HasPrefix(err.Error(), tc.wantErr), "error %q should start with %q", err, tc.wantErr)
				require.NotContains(t, out.String(), "Token response")
				return
			}
			require.NoError(t, err)
			assertSignedIn(t, s, out.String())
			for _, w := range tc.wantOut {
				require.Contains(t, out.String(), w)
			}
		})
	}
}

// assertSignedIn checks what the user sees: where to go, the code, the QR
// code of verification_uri_complete, then the tokens as JSON.
func assertSignedIn(t *testing.T, s *deviceServer, out string) {
	t.Helper()
	complete := s.srv.URL + "/device?user_code=" + testUserCode
	require.Contains(t, out, "open "+s.srv.URL+"/device\n")
	require.Contains(t, out, "enter the code: "+testUserCode)
	require.Contains(t, out, "Or open "+complete)
	require.Contains(t, out, qrcode.Terminal(complete))
	require.Contains(t, out, "checking every 1 s")

	before, jsonText, ok := strings.Cut(out, "Signed in. Token response:\n")
	require.True(t, ok, "output: %s", out)
	require.Contains(t, before, "Waiting for approval: 10 min 00 s left", "the time left, before the first check")
	_, waiting, _ := strings.Cut(before, "Ctrl-C to give up.")
	require.NotContains(t, waiting, "\x1b", "no terminal control sequences in the progress when stdout is not a terminal")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(jsonText), &got))
	require.Equal(t, "at-1", got["access_token"])
	require.Equal(t, "rt-1", got["refresh_token"])
	require.Equal(t, tokens.body["id_token"], got["id_token"])
	require.Equal(t, "openid profile offline_access", got["scope"])
	require.Equal(t, "bearer", got["token_type"], "printed as the server sent it")
	require.NotEmpty(t, got["expiry"])
	require.Contains(t, jsonText, "\n  \"access_token\"", "JSON is indented")
}

// TestInterrupt: Ctrl-C while waiting stops polling and exits with 130.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	s := newDeviceServer(t, func(s *deviceServer) { s.script = []answer{oauthError("authorization_pending")} })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"device", "-issuer", s.srv.URL}, &stdout, &stderr) }()
	<-s.polled // the client is now waiting for the user
	cancel()

	require.Equal(t, 130, <-done)
	require.Contains(t, stderr.String(), "cancelled")
	require.NotContains(t, stderr.String(), "context canceled")
}

func TestRunArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no command", nil, 2, "usage: client <command>"},
		{"help", []string{"-h"}, 0, "device"},
		{"unknown command", []string{"ciba2"}, 2, `unknown command "ciba2"`},
		{"device help", []string{"device", "-h"}, 0, "-client-secret"},
		{"unknown flag", []string{"device", "-nope"}, 2, "flag provided but not defined: -nope"},
		{"stray argument", []string{"device", "extra"}, 2, `unexpected argument "extra"`},
		{"bad auth method", []string{"device", "-auth-method", "private_key_jwt"}, 2, `unknown -auth-method "private_key_jwt"`},
		{"unreachable server", []string{"device", "-issuer", "http://127.0.0.1:1"}, 1, "client: Cannot reach the server at http://127.0.0.1:1: is it running? Start it with `go run ./example`, or pass -issuer with its address.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			require.Equal(t, tc.wantCode, run(context.Background(), tc.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tc.wantStderr)
		})
	}
}
