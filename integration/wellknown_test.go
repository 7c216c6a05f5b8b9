package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJWKSIsCacheable: relying parties may cache the key set for five minutes (the answer's
// Cache-Control is not overwritten by the JSON writer's no-store).
func TestJWKSIsCacheable(t *testing.T) {
	e := start(t)
	resp, err := http.Get(e.url + "/.well-known/jwks.json")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "public, max-age=300", resp.Header.Get("Cache-Control"))

	// Other JSON answers stay uncacheable.
	resp, err = http.Get(e.url + "/.well-known/openid-configuration")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

// TestDiscoveryTellsTheTruth: what discovery advertises is what the server does. request_uri is not
// supported and says so (its default, when absent, is true); the PKCE methods advertised are exactly
// those the authorization endpoint accepts; every grant type a demo client is registered for is
// advertised, and every advertised grant type is served by the token endpoint.
func TestDiscoveryTellsTheTruth(t *testing.T) {
	e := start(t)
	md := discovery(t, e)
	require.Equal(t, false, md["request_uri_parameter_supported"])

	// PKCE: try each method at the authorization endpoint, as alice consenting.
	var accepted []string
	for _, method := range []string{"S256", "plain"} {
		b := e.browser("alice", "alice-password")
		verifier := strings.Repeat("v", 50)
		challenge := verifier
		if method == "S256" {
			sum := sha256.Sum256([]byte(verifier))
			challenge = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		q := url.Values{"client_id": {"demo-confidential"}, "redirect_uri": {"http://127.0.0.1:9999/callback"},
			"response_type": {"code"}, "scope": {"openid"}, "state": {"state-1234567890"},
			"code_challenge": {challenge}, "code_challenge_method": {method}}
		path := "/oauth2/auth?" + q.Encode()
		_, page := b.get(path)
		resp, _ := b.send(path, url.Values{"consent": {"allow"}, "csrf": {csrfOf(t, page)}}, nil)
		loc, err := resp.Location()
		require.NoError(t, err, "method %s: no redirect (status %d)", method, resp.StatusCode)
		if loc.Query().Get("code") != "" {
			accepted = append(accepted, method)
		} else {
			require.Equal(t, "invalid_request", loc.Query().Get("error"), "method %s", method)
		}
	}
	require.ElementsMatch(t, accepted, md["code_challenge_methods_supported"])

	advertised := map[string]bool{}
	for _, g := range md["grant_types_supported"].([]interface{}) {
		advertised[g.(string)] = true
	}
	ctx := context.Background()
	for _, id := range []string{"demo-device", "demo-confidential", "demo-kiosk-app", "demo-printed",
		"demo-ciba-poll", "demo-ciba-ping", "demo-ciba-push", "demo-kiosk"} {
		c, err := e.srv.Store().GetClient(ctx, id)
		require.NoError(t, err, id)
		for _, g := range c.GetGrantTypes() {
			require.True(t, advertised[g], "%s is registered for %s, which discovery does not advertise", id, g)
		}
	}
	var names []string
	for g := range advertised {
		names = append(names, g)
		status, body := e.post("/oauth2/token", url.Values{"grant_type": {g}}, nil)
		require.NotEqual(t, "unsupported_grant_type", body["error"], "%s is advertised but not served (%d)", g, status)
	}
	sort.Strings(names)
	require.Subset(t, names, []string{"authorization_code", "client_credentials", "refresh_token",
		"urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba"})
}

// TestClientCredentialsGrantsRequestedScopes: a client_credentials token carries the scopes the
// client asked for (and may have); a scope it may not have is refused with invalid_scope.
func TestClientCredentialsGrantsRequestedScopes(t *testing.T) {
	e := start(t)
	auth := basicAuth("demo-confidential", "demo-secret")
	status, body := e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"profile email"}}, auth)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "profile email", body["scope"])

	status, intro := e.post("/oauth2/introspect", url.Values{"token": {body["access_token"].(string)}}, auth)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, intro["active"])
	require.Equal(t, "profile email", intro["scope"])

	status, body = e.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"profile admin:everything"}}, auth)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_scope", body["error"])
}

func discovery(t *testing.T, e *env) map[string]interface{} {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/.well-known/openid-configuration", nil)
	status, md := e.do(req)
	require.Equal(t, http.StatusOK, status)
	return md
}
