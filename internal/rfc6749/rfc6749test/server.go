// Package rfc6749test is the test fixture of the introspection and revocation endpoints: the shared
// grantstest provider with client authentication behind a clientauth.Limiter, more clients (one per
// authentication method), the endpoints under test mounted beside the token endpoint on a real HTTP
// server, and helpers to obtain tokens through the real grants. For tests only.
package rfc6749test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/clientauth"
	"github.com/fosite-contrib/grants/internal/grantstest"
)

// The clients this fixture adds to grantstest's, all with grantstest.ConfidentialSecret where they
// have a secret.
const (
	// PostClientID registered client_secret_post: fosite refuses HTTP Basic for it.
	PostClientID = "post-client"
	// JWTClientID registered private_key_jwt (ES256) with its key set inline.
	JWTClientID = "jwt-client"
	// ResourceServerID is a confidential client named after the audience grantstest's clients may
	// request, as a resource server registered under the audience it accepts.
	ResourceServerID = "https://api.example.com"
)

// TokenURL is the token endpoint URL client assertions are addressed to.
const TokenURL = grantstest.Issuer + grantstest.TokenPath

// Server is grantstest's server with more clients and the endpoints under test.
type Server struct {
	*grantstest.Server
	// JWTKey is JWTClientID's private key.
	JWTKey *ecdsa.PrivateKey
}

// New composes the grantstest provider, puts a clientauth.Limiter in front of client authentication,
// registers the clients above and serves endpoints (path → handler, built from the provider) beside
// the token and device endpoints.
func New(t testing.TB, endpoints func(p *fosite.Fosite) map[string]http.Handler) *Server {
	t.Helper()
	limiter := &clientauth.Limiter{}
	gs := grantstest.NewUnstartedWith(t, grantstest.Options{Fosite: func(cfg *fosite.Config) {
		cfg.TokenURL = TokenURL
		cfg.AccessTokenIssuer = grantstest.Issuer
		cfg.ClientSecretsHasher = &clientauth.CachingHasher{Hasher: &fosite.BCrypt{Config: cfg}}
		cfg.ClientAuthenticationStrategy = limiter.AuthenticateClient
	}})
	limiter.Storage = gs.Store
	limiter.Now = gs.Clock.Now
	limiter.Next = gs.Provider.Fosite.DefaultClientAuthenticationStrategy

	ctx := context.Background()
	hash, err := (&fosite.BCrypt{Config: gs.Config}).Hash(ctx, []byte(grantstest.ConfidentialSecret))
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	grants := []string{"client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"}
	for _, c := range []fosite.Client{
		&fosite.DefaultOpenIDConnectClient{
			DefaultClient:           &fosite.DefaultClient{ID: PostClientID, Secret: hash, GrantTypes: grants, Scopes: grantstest.ClientScopes},
			TokenEndpointAuthMethod: "client_secret_post",
		},
		&fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{ID: JWTClientID, GrantTypes: grants, Scopes: grantstest.ClientScopes},
			JSONWebKeys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
				{Key: key.Public(), KeyID: "k1", Use: "sig", Algorithm: "ES256"},
			}},
			TokenEndpointAuthMethod:           "private_key_jwt",
			TokenEndpointAuthSigningAlgorithm: "ES256",
		},
		&fosite.DefaultClient{ID: ResourceServerID, Secret: hash, GrantTypes: []string{"client_credentials"}},
	} {
		require.NoError(t, gs.Store.SetClient(ctx, c))
	}

	mux := http.NewServeMux()
	mux.Handle("/", gs.Handler)
	mux.HandleFunc(grantstest.TokenPath, func(rw http.ResponseWriter, r *http.Request) { token(gs.Provider.Fosite, rw, r) })
	for path, h := range endpoints(gs.Provider.Fosite) {
		mux.Handle(path, h)
	}
	gs.Handler = mux
	gs.HTTP = httptest.NewServer(mux)
	t.Cleanup(gs.HTTP.Close)
	return &Server{Server: gs, JWTKey: key}
}

// token is the token endpoint. Like an application, it grants a client_credentials request the scopes
// and audience it asked for (fosite leaves that to the application).
func token(p *fosite.Fosite, rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := p.NewAccessRequest(ctx, r, grantstest.Session(""))
	if err != nil {
		p.WriteAccessError(ctx, rw, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, scope := range ar.GetRequestedScopes() {
			ar.GrantScope(scope)
		}
		for _, aud := range ar.GetRequestedAudience() {
			ar.GrantAudience(aud)
		}
	}
	resp, err := p.NewAccessResponse(ctx, ar)
	if err != nil {
		p.WriteAccessError(ctx, rw, ar, err)
		return
	}
	p.WriteAccessResponse(ctx, rw, ar, resp)
}

// Assertion returns a new client assertion (RFC 7523 §3) of JWTClientID for the token endpoint.
func (s *Server) Assertion(t testing.TB) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: s.JWTKey, KeyID: "k1"}}, nil)
	require.NoError(t, err)
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now() // fosite checks exp and iat with the real clock
	raw, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: JWTClientID, Subject: JWTClientID, Audience: josejwt.Audience{TokenURL}, ID: hex.EncodeToString(jti),
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).CompactSerialize()
	require.NoError(t, err)
	return raw
}

// Auth is how a request authenticates its client.
type Auth struct {
	Basic  []string    // client_id, secret: HTTP Basic
	Form   url.Values  // parameters added to the body (client_id, client_secret, client_assertion…)
	Header http.Header // headers set as they are
}

// BasicAuth authenticates id with secret over HTTP Basic.
func BasicAuth(id, secret string) Auth { return Auth{Basic: []string{id, secret}} }

// PostAuth authenticates id with secret in the body (client_secret_post).
func PostAuth(id, secret string) Auth {
	return Auth{Form: url.Values{"client_id": {id}, "client_secret": {secret}}}
}

// PublicAuth names a public client in the body.
func PublicAuth(id string) Auth { return Auth{Form: url.Values{"client_id": {id}}} }

// JWTAuth authenticates JWTClientID with a new client assertion.
func (s *Server) JWTAuth(t testing.TB) Auth {
	return Auth{Form: url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {s.Assertion(t)},
	}}
}

// Post sends form, authenticated with auth, to path and returns the response.
func (s *Server) Post(t testing.TB, path string, form url.Values, auth Auth) *grantstest.Response {
	t.Helper()
	return s.Send(t, s.NewRequest(t, path, form, auth))
}

// NewRequest builds the POST of form, authenticated with auth, to path.
func (s *Server) NewRequest(t testing.TB, path string, form url.Values, auth Auth) *http.Request {
	t.Helper()
	body := url.Values{}
	for k, v := range form {
		body[k] = append([]string(nil), v...)
	}
	for k, v := range auth.Form {
		body[k] = append(body[k], v...)
	}
	req, err := http.NewRequest(http.MethodPost, s.HTTP.URL+path, strings.NewReader(body.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth.Basic != nil {
		req.SetBasicAuth(url.QueryEscape(auth.Basic[0]), url.QueryEscape(auth.Basic[1]))
	}
	for k, v := range auth.Header {
		req.Header[k] = v
	}
	return req
}

// Send sends req to the server and reads the response.
func (s *Server) Send(t testing.TB, req *http.Request) *grantstest.Response {
	t.Helper()
	res, err := s.HTTP.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	require.NoError(t, err)
	return &grantstest.Response{Status: res.StatusCode, Header: res.Header, Body: buf.Bytes()}
}

// Tokens are a token response's tokens.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// ClientCredentials obtains an access token for the client authenticated by auth (client_credentials
// grant, RFC 6749 §4.4), with the audience given, if any.
func (s *Server) ClientCredentials(t testing.TB, auth Auth, audience ...string) Tokens {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"photos"}}
	if len(audience) > 0 {
		form["audience"] = audience
	}
	return s.tokens(t, s.Post(t, grantstest.TokenPath, form, auth))
}

// DeviceTokens runs the device grant (RFC 8628) for the client authenticated by auth, approved by
// alice with scope openid offline_access photos, and returns its access and refresh tokens.
func (s *Server) DeviceTokens(t testing.TB, auth func() Auth) Tokens {
	t.Helper()
	res := s.Post(t, grantstest.DevicePath, url.Values{"scope": {"openid offline_access photos"}}, auth())
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	var dev grantstest.DeviceResponse
	require.NoError(t, json.Unmarshal(res.Body, &dev))
	s.Approve(t, dev.UserCode, "alice")
	tok := s.tokens(t, s.Post(t, grantstest.TokenPath, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dev.DeviceCode},
	}, auth()))
	require.NotEmpty(t, tok.RefreshToken)
	return tok
}

func (s *Server) tokens(t testing.TB, res *grantstest.Response) Tokens {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	var tok Tokens
	require.NoError(t, json.Unmarshal(res.Body, &tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok
}

// Active reports whether fosite finds token active (access or refresh), without going through an
// endpoint under test.
func (s *Server) Active(t testing.TB, token string) bool {
	t.Helper()
	_, _, err := s.Provider.IntrospectToken(context.Background(), token, "", grantstest.Session(""))
	return err == nil
}
