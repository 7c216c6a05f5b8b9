package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cibaServer speaks just enough CIBA for the client: discovery, the backchannel endpoint (§7.1, §7.3)
// and a token endpoint answering from a script (§10.1, §11). It records the client's
// client_notification_token so the test can call the client back.
type cibaServer struct {
	t        *testing.T
	srv      *httptest.Server
	script   []answer // the last answer repeats
	fallback bool     // answer with a user code (the enrolment fallback)

	mu    sync.Mutex
	polls int
	form  map[string]string
	// asked receives the client_notification_token of each backchannel request.
	asked chan string
}

func newCIBAServer(t *testing.T, script ...answer) *cibaServer {
	s := &cibaServer{t: t, script: script, asked: make(chan string, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": s.srv.URL, "token_endpoint": s.srv.URL + "/token",
			"backchannel_authentication_endpoint":        s.srv.URL + "/bc",
			"backchannel_token_delivery_modes_supported": []string{"poll", "ping", "push"},
		})
	})
	mux.HandleFunc("POST /bc", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		require.NoError(t, r.ParseForm())
		s.mu.Lock()
		s.form = map[string]string{"client_id": id, "secret": secret}
		for k := range r.PostForm {
			s.form[k] = r.PostForm.Get(k)
		}
		s.mu.Unlock()
		s.asked <- r.PostForm.Get("client_notification_token")
		ack := map[string]any{"auth_req_id": "req-1", "expires_in": 120, "interval": 2}
		if s.fallback {
			ack["user_code"] = "WDJB-MJHT"
			ack["verification_uri"] = s.srv.URL + "/ciba/enroll"
			ack["verification_uri_complete"] = s.srv.URL + "/ciba/enroll?user_code=WDJB-MJHT"
		}
		_ = json.NewEncoder(w).Encode(ack)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		require.Equal(t, "urn:openid:params:grant-type:ciba", r.PostForm.Get("grant_type"))
		require.Equal(t, "req-1", r.PostForm.Get("auth_req_id"))
		s.mu.Lock()
		a := s.script[min(s.polls, len(s.script)-1)]
		s.polls++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_ = json.NewEncoder(w).Encode(a.body)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// callBack posts body to the client's receiver as the server would, with bearer as the token.
func callBack(t *testing.T, url, bearer string, body any) int {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunCIBA(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		mode      string
		fallback  bool
		script    []answer
		push      map[string]any
		wantErr   string
		wantOut   []string
		wantSleep []time.Duration
	}{
		{name: "poll", mode: "poll", script: []answer{oauthError("authorization_pending"), oauthError("slow_down"), tokens},
			wantOut: []string{`"access_token": "at-1"`, "Asked \"alice\"", "Note: The server asked us to check less often; now every 7 s."}, wantSleep: []time.Duration{2 * time.Second, 2 * time.Second, 7 * time.Second}},
		{name: "poll denied", mode: "poll", script: []answer{oauthError("access_denied")}, wantErr: "The request was denied on the approval page, so nothing was granted; run the command again to ask once more. (access_denied)"},
		{name: "poll with fallback", mode: "poll", fallback: true, script: []answer{tokens},
			wantOut: []string{"enter the code: WDJB-MJHT", "/ciba/enroll?user_code=WDJB-MJHT", "█"}},
		{name: "ping", mode: "ping", script: []answer{tokens}, push: map[string]any{"auth_req_id": "req-1"}, wantOut: []string{"Pinged", `"id_token"`}},
		{name: "push", mode: "push", script: []answer{oauthError("unauthorized_client")},
			push:    map[string]any{"auth_req_id": "req-1", "access_token": "at-push", "token_type": "Bearer", "id_token": "x.y.z", "expires_in": 3600},
			wantOut: []string{`"access_token": "at-push"`}},
		{name: "push error", mode: "push", script: []answer{oauthError("unauthorized_client")},
			push: map[string]any{"auth_req_id": "req-1", "error": "access_denied", "error_description": "no"}, wantErr: "The request was denied on the approval page, so nothing was granted; run the command again to ask once more. (access_denied)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCIBAServer(t, tc.script...)
			s.fallback = tc.fallback
			var ln net.Listener
			if tc.mode != "poll" {
				var err error
				ln, err = net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
			}
			var mu sync.Mutex
			var slept []time.Duration
			opts := cibaOptions{Issuer: s.srv.URL, ClientID: "demo-ciba-" + tc.mode, ClientSecret: "s3cret", Mode: tc.mode,
				Scopes: []string{"openid"}, LoginHint: "alice", CallbackPath: "/cb", Listener: ln,
				Sleep: func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					slept = append(slept, d)
					mu.Unlock()
					return ctx.Err()
				}}
			var out bytes.Buffer
			done := make(chan error, 1)
			go func() { done <- runCIBA(context.Background(), opts, &out) }()
			if tc.push != nil {
				cb := "http://" + ln.Addr().String() + "/cb"
				tok := <-s.asked
				require.GreaterOrEqual(t, len(tok), 22, "at least 128 bits (CIBA §7.1)")
				require.Equal(t, http.StatusUnauthorized, callBack(t, cb, "wrong", tc.push), "a callback without the client's token is refused")
				require.Equal(t, http.StatusUnauthorized, callBack(t, cb, "", tc.push))
				require.Equal(t, http.StatusNoContent, callBack(t, cb, tok, map[string]any{"auth_req_id": "someone-else"}), "another request's callback is ignored")
				require.Equal(t, http.StatusNoContent, callBack(t, cb, tok, tc.push))
			}
			err := <-done
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err, out.String())
			for _, w := range tc.wantOut {
				require.Contains(t, out.String(), w)
			}
			if tc.wantSleep != nil {
				require.Equal(t, tc.wantSleep, slept)
			}
			require.Equal(t, "alice", s.form["login_hint"])
			require.Equal(t, "s3cret", s.form["secret"])
			require.NotEmpty(t, s.form["binding_message"])
			require.Equal(t, tc.mode != "poll", s.form["client_notification_token"] != "")
		})
	}
}

func TestCIBAArguments(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"ciba", "-mode", "carrier-pigeon"}, &out, &errOut))
	require.Contains(t, errOut.String(), `unknown -mode "carrier-pigeon"`)
	errOut.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"ciba", "-h"}, &out, &errOut))
	require.Contains(t, errOut.String(), "-login-hint")
	require.True(t, strings.Contains(errOut.String(), "enrolment fallback"))
}

// FuzzCallbackHandler feeds any request to the ping/push receiver, which any local process can reach:
// it never panics, and passes a callback on only with the right bearer token and a JSON body naming an
// auth_req_id.
func FuzzCallbackHandler(f *testing.F) {
	f.Add("Bearer secret-token", `{"auth_req_id":"r1"}`)
	f.Add("Bearer wrong", `{"auth_req_id":"r1"}`)
	f.Add("bearer secret-token", `{}`)
	f.Add("Bearer secret-token", `{"auth_req_id":`)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, authorization, body string) {
		ch := make(chan tokenResponse, 1)
		h := callbackHandler("/cb", "secret-token", ch)
		req := httptest.NewRequest(http.MethodPost, "/cb", strings.NewReader(body))
		req.Header.Set("Authorization", authorization)
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, req)
		select {
		case cb := <-ch:
			if authorization != "Bearer secret-token" || cb.AuthReqID == "" || rw.Code != http.StatusNoContent {
				t.Fatalf("passed on %q with %q (status %d)", body, authorization, rw.Code)
			}
		default:
			if rw.Code == http.StatusNoContent {
				t.Fatalf("204 without passing the callback on")
			}
		}
	})
}
