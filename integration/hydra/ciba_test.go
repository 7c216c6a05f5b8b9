package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cibaClient is a CIBA Core 1.0 poll-mode client, as a call centre's back end would write one with
// nothing but net/http: it asks for authentication (§7.1) and polls the token endpoint at the interval
// the server gives, slowing down when told to (§7.3, §10.1, §11).
type cibaClient struct {
	base, id, secret string
}

type cibaError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *cibaError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Description) }

// call POSTs form with the client's credentials (client_secret_basic) and decodes the JSON answer.
func (c *cibaClient) call(ctx context.Context, path string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e := &cibaError{Status: res.StatusCode}
		_ = json.NewDecoder(res.Body).Decode(e)
		return e
	}
	return json.NewDecoder(res.Body).Decode(out)
}

type cibaStart struct {
	AuthReqID string `json:"auth_req_id"`
	ExpiresIn int    `json:"expires_in"`
	Interval  int    `json:"interval"`
}

// authenticate sends the backchannel authentication request.
func (c *cibaClient) authenticate(ctx context.Context, form url.Values) (*cibaStart, error) {
	var s cibaStart
	return &s, c.call(ctx, "/oauth2/bc-authorize", form, &s)
}

// poll makes one CIBA token request (§10.1) and returns the tokens or the error.
func (c *cibaClient) poll(ctx context.Context, s *cibaStart) (map[string]any, error) {
	var tok map[string]any
	err := c.call(ctx, "/oauth2/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {s.AuthReqID}}, &tok)
	return tok, err
}

// TestCIBAPollInsideHydra: a Go client completes CIBA in poll mode against Hydra; the user's decision
// comes through the scripted admin API (standing in for their authentication device), and the tokens
// are Hydra's.
func TestCIBAPollInsideHydra(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := &cibaClient{base: e.url, id: "demo-ciba-poll", secret: "demo-ciba-secret"}

		s, err := c.authenticate(ctx, url.Values{"scope": {"openid email offline_access"}, "login_hint": {"alice@example.com"}, "binding_message": {"Call 4711"}})
		require.NoError(t, err)
		require.NotEmpty(t, s.AuthReqID)
		require.Equal(t, 1, s.Interval)
		require.Equal(t, 600, s.ExpiresIn)

		_, err = c.poll(ctx, s)
		requireCIBAError(t, err, http.StatusBadRequest, "authorization_pending")
		_, err = c.poll(ctx, s)
		requireCIBAError(t, err, http.StatusBadRequest, "slow_down") // polled sooner than the interval (§11)
		e.clock.Add(7 * time.Second)                                 // the interval, raised by 5 seconds, has passed

		status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {s.AuthReqID}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "alice", body["subject"], "the user the login_hint named")

		tok, err := c.poll(ctx, s)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(tok["access_token"].(string), "ory_at_"))
		require.True(t, strings.HasPrefix(tok["refresh_token"].(string), "ory_rt_"))
		claims := e.verifyIDToken(tok["id_token"].(string))
		require.Equal(t, "alice", claims["sub"])
		require.Equal(t, s.AuthReqID, claims["urn:openid:params:jwt:claim:auth_req_id"], "CIBA Core §10.3.1")
		require.Equal(t, "alice@example.com", claims["email"])

		info := e.introspect(tok["access_token"].(string))
		require.Equal(t, true, info["active"])
		require.Equal(t, "demo-ciba-poll", info["client_id"])
		status, ui := e.userinfo(tok["access_token"].(string))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "alice", ui["sub"])

		// Hydra refreshes it like any of its tokens.
		var refreshed map[string]any
		require.NoError(t, c.call(ctx, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, &refreshed))
		require.Equal(t, true, e.introspect(refreshed["access_token"].(string))["active"])

		// The auth_req_id was spent.
		_, err = c.poll(ctx, s)
		requireCIBAError(t, err, http.StatusBadRequest, "invalid_grant")
	})
}

// TestCIBAErrorsInsideHydra: denial, unknown users and unauthenticated clients get CIBA's answers.
func TestCIBAErrorsInsideHydra(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteBackend)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &cibaClient{base: e.url, id: "demo-ciba-poll", secret: "demo-ciba-secret"}

	t.Run("denied", func(t *testing.T) {
		s, err := c.authenticate(ctx, url.Values{"scope": {"openid"}, "login_hint": {"bob"}})
		require.NoError(t, err)
		status, body := e.admin("/admin/ciba/deny", url.Values{"auth_req_id": {s.AuthReqID}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		_, err = c.poll(ctx, s)
		requireCIBAError(t, err, http.StatusBadRequest, "access_denied")
	})

	t.Run("approving for another user than the hint named", func(t *testing.T) {
		s, err := c.authenticate(ctx, url.Values{"scope": {"openid"}, "login_hint": {"bob"}})
		require.NoError(t, err)
		status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {s.AuthReqID}, "subject": {"alice"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})

	t.Run("unknown user", func(t *testing.T) {
		_, err := c.authenticate(ctx, url.Values{"scope": {"openid"}, "login_hint": {"mallory"}})
		requireCIBAError(t, err, http.StatusBadRequest, "unknown_user_id")
	})

	t.Run("wrong secret", func(t *testing.T) {
		bad := &cibaClient{base: e.url, id: "demo-ciba-poll", secret: "wrong"}
		_, err := bad.authenticate(ctx, url.Values{"scope": {"openid"}, "login_hint": {"alice"}})
		requireCIBAError(t, err, http.StatusUnauthorized, "invalid_client")
	})

	t.Run("a client registered for no CIBA", func(t *testing.T) {
		other := &cibaClient{base: e.url, id: "demo-confidential", secret: "demo-secret"}
		_, err := other.authenticate(ctx, url.Values{"scope": {"openid"}, "login_hint": {"alice"}})
		var ce *cibaError
		require.True(t, errorAs(err, &ce), "%v", err)
		require.Equal(t, http.StatusBadRequest, ce.Status)
		require.Equal(t, "unauthorized_client", ce.Code)
	})

	t.Run("unknown auth_req_id at the admin API", func(t *testing.T) {
		status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {"nothing"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})
}

// errorAs is errors.As for *cibaError.
func errorAs(err error, target **cibaError) bool {
	e, ok := err.(*cibaError)
	if ok {
		*target = e
	}
	return ok
}

// TestCIBAPingInsideHydra: a client created through Hydra's admin API, registered for ping mode in its
// metadata, is pinged at its notification endpoint once the user decided (through the durable outbox),
// then fetches its tokens.
func TestCIBAPingInsideHydra(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteBackend)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	pings := make(chan *http.Request, 1)
	bodies := make(chan map[string]any, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		pings <- r
		bodies <- m
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(cb.Close)

	status, created := e.adminJSON(http.MethodPost, "/admin/clients", map[string]any{
		"client_id": "ping-client", "client_secret": "ping-client-secret", "token_endpoint_auth_method": "client_secret_basic",
		"grant_types": []string{"urn:openid:params:grant-type:ciba"}, "scope": "openid",
		"metadata": map[string]any{"backchannel_token_delivery_mode": "ping", "backchannel_client_notification_endpoint": cb.URL + "/cb"},
	})
	require.Equal(t, http.StatusCreated, status, "%v", created)

	c := &cibaClient{base: e.url, id: "ping-client", secret: "ping-client-secret"}
	s, err := c.authenticate(ctx, url.Values{"scope": {"openid"}, "login_hint": {"carol"}, "client_notification_token": {"a-bearer-token-for-the-callback"}})
	require.NoError(t, err)
	status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {s.AuthReqID}})
	require.Equal(t, http.StatusOK, status, "%v", body)

	select {
	case r := <-pings:
		require.Equal(t, "Bearer a-bearer-token-for-the-callback", r.Header.Get("Authorization"), "CIBA Core §10.2")
		require.Equal(t, map[string]any{"auth_req_id": s.AuthReqID}, <-bodies)
	case <-ctx.Done():
		t.Fatal("no ping arrived")
	}
	tok, err := c.poll(ctx, s)
	require.NoError(t, err)
	require.Equal(t, "carol", e.verifyIDToken(tok["id_token"].(string))["sub"])
}

// adminJSON calls the admin API with a JSON body.
func (e *env) adminJSON(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(e.t, err)
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(b))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

// requireCIBAError checks that err is the CIBA error code with HTTP status.
func requireCIBAError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ce *cibaError
	require.True(t, errorAs(err, &ce), "%v", err)
	require.Equal(t, status, ce.Status, "%v", err)
	require.Equal(t, code, ce.Code, "%v", err)
}
