package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
)

// TestDeviceDPoPAgainstTheExampleServer runs `client device -dpop` against the bundled example server:
// demo-dpop (which registered dpop_bound_access_tokens) gets DPoP tokens, with and without the
// server's nonces, and userinfo answers for alice when called with the bound token and a proof; the
// same client without -dpop is refused with a sentence naming the error.
func TestDeviceDPoPAgainstTheExampleServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		nonce bool
		dpop  bool
	}{{"dpop", false, true}, {"dpop with server nonces", true, true}, {"no proof", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &testClock{t: time.Now()}
			ts := httptest.NewUnstartedServer(nil)
			issuer := "http://" + ts.Listener.Addr().String()
			srv, err := server.New(context.Background(), server.Options{
				Issuer: issuer, AdminToken: "admin", Now: clk.Now, SigningKey: testKey(), Dev: true,
				DPoP: server.DPoPOptions{RequireNonce: tc.nonce},
			})
			require.NoError(t, err)
			ts.Config.Handler = srv
			ts.Start()
			t.Cleanup(ts.Close)

			out := &watchWriter{wrote: make(chan struct{}, 1)}
			done := make(chan error, 1)
			go func() {
				done <- runDevice(context.Background(), deviceOptions{
					Issuer: issuer, ClientID: server.DemoDPoPClientID, Scopes: []string{"openid", "profile", "offline_access"}, DPoP: tc.dpop,
					Sleep: func(ctx context.Context, d time.Duration) error { clk.Add(d); return ctx.Err() },
				}, out)
			}()
			code := out.await(t, userCodeRE)
			req, err := http.NewRequest(http.MethodPost, issuer+"/admin/device/approve",
				strings.NewReader(url.Values{"user_code": {code}, "subject": {"alice"}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer admin")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			err = <-done
			if !tc.dpop {
				require.ErrorContains(t, err, "(invalid_dpop_proof)")
				return
			}
			require.NoError(t, err, out.String())
			require.Contains(t, out.String(), `"token_type": "DPoP"`)
			require.Contains(t, out.String(), "Userinfo, called with it and a proof:")
			require.Contains(t, out.String(), `"sub": "alice"`)
			require.Contains(t, out.String(), `"name": "Alice Liddell"`)
		})
	}
}
