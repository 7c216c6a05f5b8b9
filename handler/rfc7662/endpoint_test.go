package rfc7662_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/rfc7662"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/internal/rfc6749/rfc6749test"
)

const path = "/oauth2/introspect"

const secret = grantstest.ConfidentialSecret

func newServer(t testing.TB, allowed func(context.Context, fosite.Client, fosite.AccessRequester) bool) *rfc6749test.Server {
	return rfc6749test.New(t, func(p *fosite.Fosite) map[string]http.Handler {
		return map[string]http.Handler{path: &rfc7662.Endpoint{
			Provider:   p,
			NewSession: func() fosite.Session { return grantstest.Session("") },
			Allowed:    allowed,
		}}
	})
}

// golden compares res with testdata/<name>.golden.json, with the tokens and the times of the body
// replaced by placeholders.
func golden(t *testing.T, name string, res *grantstest.Response, tokens rfc6749test.Tokens) {
	t.Helper()
	replace := map[string]string{tokens.AccessToken: "<access_token>", tokens.RefreshToken: "<refresh_token>"}
	m := res.JSON(t)
	for _, k := range []string{"exp", "iat"} {
		if v, ok := m[k].(float64); ok {
			replace[strconv.FormatInt(int64(v), 10)] = `"<` + k + `>"`
		}
	}
	grantstest.Golden(t, name, res, replace)
}

func introspect(token string, extra ...string) url.Values {
	f := url.Values{"token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Add(extra[i], extra[i+1])
	}
	return f
}

// TestIntrospectEveryAuthMethod: a client learns about its own active tokens with whichever method it
// registered (RFC 7662 §2.1: "any form of authentication ... of the client"), and gets every §2.2
// member known for them.
func TestIntrospectEveryAuthMethod(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, tc := range []struct {
		name string
		auth func() rfc6749test.Auth
	}{
		{"client_secret_basic", func() rfc6749test.Auth { return rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret) }},
		{"client_secret_post", func() rfc6749test.Auth { return rfc6749test.PostAuth(rfc6749test.PostClientID, secret) }},
		{"private_key_jwt", func() rfc6749test.Auth { return s.JWTAuth(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.DeviceTokens(t, tc.auth)
			res := s.Post(t, path, introspect(tok.AccessToken), tc.auth())
			require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
			m := res.JSON(t)
			require.Equal(t, true, m["active"])
			require.Equal(t, "bearer", m["token_type"])
			golden(t, "active_access_token_"+tc.name, res, tok)

			res = s.Post(t, path, introspect(tok.RefreshToken, "token_type_hint", "refresh_token"), tc.auth())
			require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
			require.Greater(t, res.JSON(t)["exp"], m["exp"], "exp is the refresh token's own")
			golden(t, "active_refresh_token_"+tc.name, res, tok)
		})
	}
}

// TestIntrospectAnswers covers the §2.2 answers for an authenticated caller.
func TestIntrospectAnswers(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	owner := rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret)
	own := s.DeviceTokens(t, func() rfc6749test.Auth { return owner })
	other := s.ClientCredentials(t, rfc6749test.BasicAuth(grantstest.NoDeviceClientID, secret))
	forAPI := s.ClientCredentials(t, rfc6749test.BasicAuth(grantstest.NoDeviceClientID, secret), rfc6749test.ResourceServerID)
	revoked := s.ClientCredentials(t, owner)
	require.NoError(t, s.Provider.Fosite.Config.GetRevocationHandlers(context.Background())[0].RevokeToken(
		context.Background(), revoked.AccessToken, fosite.AccessToken, &fosite.DefaultClient{ID: grantstest.ConfidentialClientID}))

	for _, tc := range []struct {
		name   string
		form   url.Values
		auth   rfc6749test.Auth
		active bool
		golden string
	}{
		{"access token, hint refresh_token: still found", introspect(own.AccessToken, "token_type_hint", "refresh_token"), owner, true, ""},
		{"refresh token, no hint", introspect(own.RefreshToken), owner, true, ""},
		{"refresh token, hint access_token", introspect(own.RefreshToken, "token_type_hint", "access_token"), owner, true, ""},
		{"unknown hint is ignored", introspect(own.AccessToken, "token_type_hint", "id_token"), owner, true, ""},
		{"unknown token", introspect("not-a-token"), owner, false, "inactive"},
		{"revoked token", introspect(revoked.AccessToken), owner, false, ""},
		{"another client's token", introspect(other.AccessToken), owner, false, ""},
		{"a token for the resource server", introspect(forAPI.AccessToken), rfc6749test.BasicAuth(rfc6749test.ResourceServerID, secret), true, "active_for_audience"},
		{"a token for another audience", introspect(other.AccessToken), rfc6749test.BasicAuth(rfc6749test.ResourceServerID, secret), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Post(t, path, tc.form, tc.auth)
			require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.active, res.JSON(t)["active"])
			if !tc.active {
				require.Equal(t, map[string]interface{}{"active": false}, res.JSON(t), "an inactive answer says nothing else")
			}
			if tc.golden != "" {
				golden(t, tc.golden, res, forAPI)
			}
		})
	}
	require.True(t, s.Active(t, own.AccessToken), "introspection changes nothing")
}

// TestIntrospectAllowed: a server's own policy replaces the default.
func TestIntrospectAllowed(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(_ context.Context, caller fosite.Client, _ fosite.AccessRequester) bool {
		return caller.GetID() == rfc6749test.ResourceServerID
	})
	tok := s.ClientCredentials(t, rfc6749test.BasicAuth(grantstest.NoDeviceClientID, secret))
	res := s.Post(t, path, introspect(tok.AccessToken), rfc6749test.BasicAuth(rfc6749test.ResourceServerID, secret))
	require.Equal(t, true, res.JSON(t)["active"])
	res = s.Post(t, path, introspect(tok.AccessToken), rfc6749test.BasicAuth(grantstest.NoDeviceClientID, secret))
	require.Equal(t, false, res.JSON(t)["active"], "the policy refuses even the token's own client")
}

// TestIntrospectRefusals: the request rules of RFC 7662 §2.1 and RFC 6749 §5.2, over HTTP.
func TestIntrospectRefusals(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	owner := rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret)
	tok := s.ClientCredentials(t, owner)
	form := introspect(tok.AccessToken)

	for _, tc := range []struct {
		name      string
		req       func(t *testing.T) *http.Request
		status    int
		errorCode string
		golden    string
	}{
		{"wrong secret", post(s, form, rfc6749test.BasicAuth(grantstest.ConfidentialClientID, "wrong")), 401, "invalid_client", "wrong_secret"},
		{"wrong secret in the body", post(s, form, rfc6749test.PostAuth(rfc6749test.PostClientID, "wrong")), 401, "invalid_client", ""},
		{"unknown client", post(s, form, rfc6749test.BasicAuth("nobody", secret)), 401, "invalid_client", ""},
		{"no credentials", post(s, form, rfc6749test.Auth{}), 401, "invalid_client", "no_credentials"},
		{"a bearer token is not client authentication", post(s, form, rfc6749test.Auth{Header: http.Header{"Authorization": {"Bearer " + tok.AccessToken}}}), 401, "invalid_client", ""},
		{"public client", post(s, form, rfc6749test.PublicAuth(grantstest.PublicClientID)), 401, "invalid_client", "public_client"},
		{"Basic for a client_secret_post client", post(s, form, rfc6749test.BasicAuth(rfc6749test.PostClientID, secret)), 401, "invalid_client", ""},
		{"forged assertion", post(s, form, rfc6749test.Auth{Form: url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {s.Assertion(t)[:40] + "x.e30.c2ln"},
		}}), 401, "invalid_client", ""},
		{"replayed assertion", func(t *testing.T) *http.Request {
			auth := s.JWTAuth(t)
			require.Equal(t, http.StatusOK, s.Post(t, path, form, auth).Status)
			return s.NewRequest(t, path, form, auth)
		}, 401, "invalid_client", ""},
		{"Basic and client_secret in the body", post(s, form, rfc6749test.Auth{Basic: []string{grantstest.ConfidentialClientID, secret}, Form: url.Values{"client_secret": {secret}}}), 400, "invalid_request", "two_methods"},
		{"Basic client differs from the body's client_id", post(s, form, rfc6749test.Auth{Basic: []string{grantstest.ConfidentialClientID, secret}, Form: url.Values{"client_id": {grantstest.NoDeviceClientID}}}), 400, "invalid_request", "two_clients"},
		{"duplicate token", post(s, url.Values{"token": {tok.AccessToken, "x"}}, owner), 400, "invalid_request", "duplicate_parameter"},
		{"duplicate client_id", post(s, form, rfc6749test.Auth{Form: url.Values{"client_id": {rfc6749test.PostClientID, rfc6749test.PostClientID}, "client_secret": {secret}}}), 400, "invalid_request", ""},
		{"no token", post(s, url.Values{}, owner), 400, "invalid_request", "no_token"},
		{"empty token", post(s, url.Values{"token": {""}}, owner), 400, "invalid_request", ""},
		{"JSON body", func(t *testing.T) *http.Request {
			r := s.NewRequest(t, path, form, owner)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 400, "invalid_request", ""},
		{"body over 64 KiB", post(s, url.Values{"token": {strings.Repeat("a", 70<<10)}}, owner), 400, "invalid_request", ""},
		{"GET", method(s, http.MethodGet), 405, "invalid_request", "method_get"},
		{"PUT", method(s, http.MethodPut), 405, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Send(t, tc.req(t))
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.errorCode, res.Error(t))
			require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
			switch tc.status {
			case http.StatusUnauthorized:
				require.Equal(t, `Basic realm="oauth2"`, res.Header.Get("WWW-Authenticate"))
			case http.StatusMethodNotAllowed:
				require.Equal(t, http.MethodPost, res.Header.Get("Allow"))
			}
			if tc.golden != "" {
				golden(t, tc.golden, res, tok)
			}
		})
	}
}

func post(s *rfc6749test.Server, form url.Values, auth rfc6749test.Auth) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return s.NewRequest(t, path, form, auth) }
}

func method(s *rfc6749test.Server, m string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		r, err := http.NewRequest(m, s.HTTP.URL+path+"?token=x", nil)
		require.NoError(t, err)
		r.SetBasicAuth(grantstest.ConfidentialClientID, secret)
		return r
	}
}
