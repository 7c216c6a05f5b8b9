package integration

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/storage/memory"
)

// from sends requests from another loopback address (Linux routes all of 127.0.0.0/8 to loopback), so
// that the example's per-address counters tell it apart from the tests' usual 127.0.0.1.
func from(t *testing.T, ip string) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// postFrom sends form with header to path through c and returns the status, headers and JSON body.
func (e *env) postFrom(c *http.Client, path string, form url.Values, header http.Header) (int, http.Header, map[string]interface{}) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	var m map[string]interface{}
	if len(body) > 0 {
		require.NoError(e.t, json.Unmarshal(body, &m), "body: %s", body)
	}
	return resp.StatusCode, resp.Header, m
}

// TestClientAuthFlood: the example counts failed client authentications per address for every
// endpoint that authenticates clients. One address sending wrong secrets gets 401 up to the limit (20)
// and 429 after it, at the token endpoint and at this module's CIBA endpoint alike, and then at every
// endpoint that authenticates clients; the flooded client and the others keep working from their own
// address.
func TestClientAuthFlood(t *testing.T) {
	t.Parallel()
	// The flooded client's secret is hashed at bcrypt's minimum cost, so that the failures up to the
	// limit stay quick under the race detector; the demo clients' hashes cost 10.
	store := memory.New()
	hash, err := (&fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}).Hash(context.Background(), []byte("flood-secret"))
	require.NoError(t, err)
	require.NoError(t, store.SetClient(context.Background(), &fosite.DefaultClient{ID: "flood-target", Secret: hash, GrantTypes: []string{"client_credentials"}}))
	e := startCIBA(t, func(o *server.Options) { o.Store = store })
	attacker := from(t, "127.0.0.2")
	cc := url.Values{"grant_type": {"client_credentials"}}
	bc := url.Values{"scope": {"openid"}, "login_hint": {"carol"}}
	for i := range 20 {
		path, form := "/oauth2/token", cc
		if i%2 == 1 {
			path, form = "/oauth2/bc-authorize", bc
		}
		status, _, body := e.postFrom(attacker, path, form, cibaBasic("flood-target", "guess"))
		require.Equal(t, http.StatusUnauthorized, status, "attempt %d at %s: %v", i, path, body)
	}
	for _, path := range []string{"/oauth2/token", "/oauth2/bc-authorize", "/oauth2/device/auth", "/oauth2/introspect", "/oauth2/revoke"} {
		status, _, body := e.postFrom(attacker, path, url.Values{"token": {"x"}, "grant_type": {"client_credentials"}}, cibaBasic("demo-confidential", "guess"))
		require.Equal(t, http.StatusTooManyRequests, status, "%s: %v", path, body)
		require.Equal(t, "temporarily_unavailable", body["error"], path)
	}

	status, body := e.post("/oauth2/token", cc, cibaBasic("flood-target", "flood-secret"))
	require.Equal(t, http.StatusOK, status, "the flooded client, from its own address: %v", body)
	status, body = e.bc("demo-ciba-poll", bc)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// TestClientAuthOneMethod: the example refuses a request that authenticates its client twice, at
// fosite's token endpoint and at this module's device authorization endpoint (RFC 6749 §2.3).
func TestClientAuthOneMethod(t *testing.T) {
	t.Parallel()
	e := start(t)
	basic := http.Header{"Authorization": {basic("demo-confidential", server.DemoConfidentialSecret)}}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_secret": {server.DemoConfidentialSecret}}},
		{"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-device"}}},
		{"/oauth2/device/auth", url.Values{"scope": {"openid"}, "client_secret": {server.DemoConfidentialSecret}}},
	} {
		status, body := e.post(tc.path, tc.form, basic)
		require.Equal(t, http.StatusBadRequest, status, "%s %v: %v", tc.path, tc.form, body)
		require.Equal(t, "invalid_request", body["error"])
	}
}

// TestIntrospectionAndRevocation: the example's RFC 7662 and RFC 7009 endpoints, as its discovery
// document describes them.
func TestIntrospectionAndRevocation(t *testing.T) {
	t.Parallel()
	e := start(t)
	status, disco := e.do(mustRequest(t, http.MethodGet, e.url+"/.well-known/openid-configuration"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []interface{}{"client_secret_basic", "client_secret_post", "private_key_jwt"}, disco["introspection_endpoint_auth_methods_supported"])
	require.Equal(t, []interface{}{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}, disco["revocation_endpoint_auth_methods_supported"])

	post := url.Values{"client_id": {"demo-confidential"}, "client_secret": {server.DemoConfidentialSecret}}
	status, tok := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": post["client_id"], "client_secret": post["client_secret"]}, nil)
	require.Equal(t, http.StatusOK, status, "%v", tok)
	token := tok["access_token"].(string)

	// client_secret_post, which fosite's own introspection handler ignores.
	status, body := e.post("/oauth2/introspect", url.Values{"token": {token}, "client_id": post["client_id"], "client_secret": post["client_secret"]}, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, true, body["active"])
	require.Equal(t, "demo-confidential", body["client_id"])

	// Wrong or missing credentials: 401 with a challenge, not {"active":false}.
	for _, h := range []http.Header{{"Authorization": {basic("demo-confidential", "wrong")}}, nil} {
		status, header, body := e.postFrom(http.DefaultClient, "/oauth2/introspect", url.Values{"token": {token}}, h)
		require.Equal(t, http.StatusUnauthorized, status, "%v", body)
		require.Equal(t, "invalid_client", body["error"])
		require.NotEmpty(t, header.Get("WWW-Authenticate"))
	}
	status, header, body := e.postFrom(http.DefaultClient, "/oauth2/revoke", url.Values{"token": {token}, "client_id": {"demo-device"}},
		http.Header{"Authorization": {basic("demo-confidential", server.DemoConfidentialSecret)}})
	require.Equal(t, http.StatusBadRequest, status, "a Basic client other than the body's client_id: %v", body)
	require.Empty(t, header.Get("WWW-Authenticate"))

	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		status, body := e.do(mustRequest(t, http.MethodGet, e.url+path))
		require.Equal(t, http.StatusMethodNotAllowed, status)
		require.Equal(t, "invalid_request", body["error"], path)
	}

	status, _, _ = e.postFrom(http.DefaultClient, "/oauth2/revoke", url.Values{"token": {token}, "client_id": post["client_id"], "client_secret": post["client_secret"]}, nil)
	require.Equal(t, http.StatusOK, status)
	require.False(t, e.active(token))
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	return r
}
