package rfc7009_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/rfc7009"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/internal/rfc6749/rfc6749test"
)

const path = "/oauth2/revoke"

const secret = grantstest.ConfidentialSecret

func newServer(t testing.TB) *rfc6749test.Server {
	return rfc6749test.New(t, func(p *fosite.Fosite) map[string]http.Handler {
		return map[string]http.Handler{path: &rfc7009.Endpoint{Provider: p}}
	})
}

func revoke(token string, extra ...string) url.Values {
	f := url.Values{"token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Add(extra[i], extra[i+1])
	}
	return f
}

// requireRevoked checks a 200 revocation answer (RFC 7009 §2.2: the body is empty and not cached).
func requireRevoked(t *testing.T, res *grantstest.Response) {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	require.Empty(t, res.Body)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
}

// TestRevokeEveryAuthMethod: each client revokes its own tokens with the method it registered; revoking
// a refresh token ends its grant's access token too, and revoking an access token its refresh token.
func TestRevokeEveryAuthMethod(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, tc := range []struct {
		name string
		auth func() rfc6749test.Auth
	}{
		{"client_secret_basic", func() rfc6749test.Auth { return rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret) }},
		{"client_secret_post", func() rfc6749test.Auth { return rfc6749test.PostAuth(rfc6749test.PostClientID, secret) }},
		{"private_key_jwt", func() rfc6749test.Auth { return s.JWTAuth(t) }},
		{"none (a public client)", func() rfc6749test.Auth { return rfc6749test.PublicAuth(grantstest.PublicClientID) }},
	} {
		t.Run(tc.name+", refresh token", func(t *testing.T) {
			tok := s.DeviceTokens(t, tc.auth)
			requireRevoked(t, s.Post(t, path, revoke(tok.RefreshToken), tc.auth()))
			require.False(t, s.Active(t, tok.RefreshToken))
			require.False(t, s.Active(t, tok.AccessToken), "the grant's access token is revoked with it")
		})
		t.Run(tc.name+", access token", func(t *testing.T) {
			tok := s.DeviceTokens(t, tc.auth)
			requireRevoked(t, s.Post(t, path, revoke(tok.AccessToken, "token_type_hint", "access_token"), tc.auth()))
			require.False(t, s.Active(t, tok.AccessToken))
			require.False(t, s.Active(t, tok.RefreshToken))
		})
	}
}

// TestRevokeAnswers covers §2.1 and §2.2 for an authenticated client.
func TestRevokeAnswers(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	owner := rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret)
	for _, tc := range []struct {
		name    string
		form    func(tok rfc6749test.Tokens) url.Values
		revoked bool
	}{
		{"hint refresh_token", func(tok rfc6749test.Tokens) url.Values {
			return revoke(tok.RefreshToken, "token_type_hint", "refresh_token")
		}, true},
		{"wrong hint: the other kind is still searched", func(tok rfc6749test.Tokens) url.Values {
			return revoke(tok.AccessToken, "token_type_hint", "refresh_token")
		}, true},
		{"unknown hint is ignored", func(tok rfc6749test.Tokens) url.Values {
			return revoke(tok.RefreshToken, "token_type_hint", "id_token")
		}, true},
		{"unknown token: 200 all the same", func(rfc6749test.Tokens) url.Values { return revoke("not-a-token") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.DeviceTokens(t, func() rfc6749test.Auth { return owner })
			requireRevoked(t, s.Post(t, path, tc.form(tok), owner))
			require.Equal(t, !tc.revoked, s.Active(t, tok.AccessToken))
			require.Equal(t, !tc.revoked, s.Active(t, tok.RefreshToken))
		})
	}
	t.Run("twice", func(t *testing.T) {
		tok := s.ClientCredentials(t, owner)
		requireRevoked(t, s.Post(t, path, revoke(tok.AccessToken), owner))
		requireRevoked(t, s.Post(t, path, revoke(tok.AccessToken), owner))
	})
}

// TestRevokeRefusals: the request rules of RFC 7009 §2.1 and RFC 6749 §5.2, over HTTP; none of them
// revokes anything.
func TestRevokeRefusals(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	owner := rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret)
	tok := s.DeviceTokens(t, func() rfc6749test.Auth { return owner })
	form := revoke(tok.RefreshToken)
	for _, tc := range []struct {
		name      string
		form      url.Values
		auth      rfc6749test.Auth
		status    int
		errorCode string
		golden    string
	}{
		{"another client's token", form, rfc6749test.BasicAuth(grantstest.NoDeviceClientID, secret), 400, "unauthorized_client", "another_client"},
		{"another client's token, by a public client", form, rfc6749test.PublicAuth(grantstest.PublicClientID), 400, "unauthorized_client", ""},
		{"wrong secret", form, rfc6749test.BasicAuth(grantstest.ConfidentialClientID, "wrong"), 401, "invalid_client", "wrong_secret"},
		{"wrong secret in the body", form, rfc6749test.PostAuth(rfc6749test.PostClientID, "wrong"), 401, "invalid_client", ""},
		{"confidential client without its secret", form, rfc6749test.PublicAuth(grantstest.ConfidentialClientID), 401, "invalid_client", ""},
		{"no client", form, rfc6749test.Auth{}, 401, "invalid_client", "no_client"},
		{"Basic client differs from the body's client_id", form, rfc6749test.Auth{Basic: []string{grantstest.ConfidentialClientID, secret}, Form: url.Values{"client_id": {grantstest.NoDeviceClientID}}}, 400, "invalid_request", "two_clients"},
		{"Basic and client_secret in the body", form, rfc6749test.Auth{Basic: []string{grantstest.ConfidentialClientID, secret}, Form: url.Values{"client_secret": {secret}}}, 400, "invalid_request", ""},
		{"duplicate token", url.Values{"token": {tok.RefreshToken, tok.AccessToken}}, owner, 400, "invalid_request", "duplicate_parameter"},
		{"duplicate token_type_hint", revoke(tok.RefreshToken, "token_type_hint", "refresh_token", "token_type_hint", "access_token"), owner, 400, "invalid_request", ""},
		{"no token", url.Values{"token_type_hint": {"access_token"}}, owner, 400, "invalid_request", "no_token"},
		{"body over 64 KiB", url.Values{"token": {tok.RefreshToken}, "pad": {strings.Repeat("a", 70<<10)}}, owner, 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Post(t, path, tc.form, tc.auth)
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.errorCode, res.Error(t))
			if tc.status == http.StatusUnauthorized {
				require.Equal(t, `Basic realm="oauth2"`, res.Header.Get("WWW-Authenticate"))
			}
			if tc.golden != "" {
				grantstest.Golden(t, tc.golden, res, nil)
			}
			require.True(t, s.Active(t, tok.RefreshToken), "nothing was revoked")
			require.True(t, s.Active(t, tok.AccessToken))
		})
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		t.Run(m, func(t *testing.T) {
			r, err := http.NewRequest(m, s.HTTP.URL+path+"?token="+url.QueryEscape(tok.RefreshToken), nil)
			require.NoError(t, err)
			r.SetBasicAuth(grantstest.ConfidentialClientID, secret)
			res := s.Send(t, r)
			require.Equal(t, http.StatusMethodNotAllowed, res.Status)
			require.Equal(t, http.MethodPost, res.Header.Get("Allow"))
			require.Equal(t, "invalid_request", res.Error(t))
			if m == http.MethodGet {
				grantstest.Golden(t, "method_get", res, nil)
			}
			require.True(t, s.Active(t, tok.RefreshToken))
		})
	}
}

// TestRevokeUnsupportedTokenType: a provider composed without a revocation handler for the token
// answers unsupported_token_type (§2.2.1).
func TestRevokeUnsupportedTokenType(t *testing.T) {
	t.Parallel()
	store := storage.NewMemoryStore()
	hash, err := (&fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}).Hash(context.Background(), []byte(secret))
	require.NoError(t, err)
	store.Clients["c"] = &fosite.DefaultClient{ID: "c", Secret: hash}
	p := fosite.NewOAuth2Provider(store, &fosite.Config{HashCost: 4}) // no handler composed

	rec := newRecorder()
	r := newRequest(t, "token=abc")
	r.SetBasicAuth("c", secret)
	(&rfc7009.Endpoint{Provider: p}).ServeHTTP(rec, r)
	require.Equal(t, http.StatusBadRequest, rec.Code, "body: %s", rec.Body)
	require.Contains(t, rec.Body.String(), `"error":"unsupported_token_type"`)
}
