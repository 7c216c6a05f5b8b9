package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/handler/rfc7662"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/storage/memory"
)

const (
	deviceGrant = string(rfc8628.GrantType)
	clientPass  = "client-secret"
)

// tokenServer is a fosite server over real HTTP: the device grant, client credentials, refresh
// (this module's), introspection, and DPoP, composed with this module's Compose. Its token endpoint is
// the usual NewAccessRequest/NewAccessResponse, with the DPoP-Nonce header on errors.
type tokenServer struct {
	t        *testing.T
	url      string
	clock    *fakeClock
	store    *memory.MemoryStore
	provider fosite.OAuth2Provider
	device   *compose.DeviceGrant
	dpop     *compose.DPoP
}

func newTokenServer(t *testing.T, opts dpop.Options, newSession func() fosite.Session) *tokenServer {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	c := newClock()
	store := memory.New()
	config := &fosite.Config{GlobalSecret: secret, TokenURL: base + "/token", RefreshTokenScopes: []string{"offline_access"}}
	hash, err := (&fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}).Hash(ctx, []byte(clientPass))
	require.NoError(t, err)
	config.ClientSecretsHasher = &fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}
	grants := []string{deviceGrant, "refresh_token"}
	scopes := []string{"openid", "offline_access", "photos"}
	for _, cl := range []fosite.Client{
		&fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: grants, Scopes: scopes},
		&fosite.DefaultClient{ID: "svc", Secret: hash, GrantTypes: append([]string{"client_credentials"}, grants...), Scopes: scopes},
		&registration.Client{
			DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{
				DefaultClient:           &fosite.DefaultClient{ID: "strict-tv", Public: true, GrantTypes: grants, Scopes: scopes},
				TokenEndpointAuthMethod: "none",
			},
			Metadata: map[string]any{dpop.MetaBoundAccessTokens: true},
		},
	} {
		require.NoError(t, store.SetClient(ctx, cl))
	}
	opts.Now = c.Now
	holder := compose.NewDPoP(opts)
	device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: base + "/device", Now: c.Now})
	provider := compose.Compose(config, store, fcompose.NewOAuth2HMACStrategy(config),
		holder.Factory, // first in the list: Compose still puts it after every grant
		fcompose.OAuth2ClientCredentialsGrantFactory,
		compose.RefreshTokenGrantFactory,
		fcompose.OAuth2TokenIntrospectionFactory,
		device.Factory,
	)
	if newSession == nil {
		newSession = func() fosite.Session { return dpop.NewOpenIDSession(nil) }
	}
	mux := http.NewServeMux()
	mux.Handle("/device/auth", device.Authorization)
	mux.HandleFunc("/token", tokenEndpoint(provider, newSession))
	mux.Handle("/introspect", &rfc7662.Endpoint{
		Provider: provider.Fosite, NewSession: newSession,
		Allowed: func(context.Context, fosite.Client, fosite.AccessRequester) bool { return true },
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return &tokenServer{t: t, url: base, clock: c, store: store, provider: provider, device: device, dpop: holder}
}

// tokenEndpoint is an application's token endpoint: fosite's, plus the DPoP-Nonce header on errors, and
// the client_credentials scopes granted.
func tokenEndpoint(p fosite.OAuth2Provider, newSession func() fosite.Session) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewAccessRequest(ctx, r, newSession())
		if err != nil {
			dpop.SetNonceHeader(rw.Header(), err)
			p.WriteAccessError(ctx, rw, ar, err)
			return
		}
		if ar.GetGrantTypes().ExactOne("client_credentials") {
			for _, s := range ar.GetRequestedScopes() {
				ar.GrantScope(s)
			}
		}
		resp, err := p.NewAccessResponse(ctx, ar)
		if err != nil {
			p.WriteAccessError(ctx, rw, ar, err)
			return
		}
		p.WriteAccessResponse(ctx, rw, ar, resp)
	}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) str(name string) string { s, _ := a.body[name].(string); return s }

// post sends form to path with the DPoP headers given (none, one or several) and Basic credentials
// when user is set.
func (s *tokenServer) post(path string, form url.Values, user string, proofs ...string) answer {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	if user != "" {
		req.SetBasicAuth(user, clientPass)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	a := answer{status: res.StatusCode, header: res.Header}
	require.NoError(s.t, json.Unmarshal(b, &a.body), "%s", b)
	return a
}

// approvedDevice starts a device authorization for clientID (public, or "svc" with its secret) and
// approves it, returning the device code.
func (s *tokenServer) approvedDevice(clientID string) string {
	s.t.Helper()
	form := url.Values{"scope": {"openid offline_access photos"}}
	user := ""
	if clientID == "svc" {
		user = "svc"
	} else {
		form.Set("client_id", clientID)
	}
	d := s.post("/device/auth", form, user)
	require.Equal(s.t, http.StatusOK, d.status, "%v", d.body)
	sess := dpop.NewOpenIDSession(nil)
	sess.Subject, sess.Claims.Subject = "alice", "alice"
	_, err := s.device.Verifier.Approve(context.Background(), d.str("user_code"), pending.Caller{Address: "192.0.2.1"},
		pending.Decision{Subject: "alice", Session: sess})
	require.NoError(s.t, err)
	return d.str("device_code")
}

func pollForm(clientID, code string) url.Values {
	f := url.Values{"grant_type": {deviceGrant}, "device_code": {code}}
	if clientID != "svc" {
		f.Set("client_id", clientID)
	}
	return f
}

func refreshForm(clientID, rt string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if clientID != "svc" {
		f.Set("client_id", clientID)
	}
	return f
}

// boundTo returns the thumbprint the token's stored session is bound to.
func (s *tokenServer) boundTo(token string) string {
	s.t.Helper()
	_, ar, err := s.provider.IntrospectToken(context.Background(), token, "", dpop.NewOpenIDSession(nil))
	require.NoError(s.t, err)
	return dpop.BoundTo(ar.GetSession())
}

func (s *tokenServer) proof(p *prover) string {
	return p.proof(http.MethodPost, s.url+"/token", s.clock.Now())
}

// requireRefused asserts an RFC 6749 §5.2 error with exactly that description.
func requireRefused(t *testing.T, a answer, code, description string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, a.status, "%v", a.body)
	require.Equal(t, code, a.str("error"))
	require.Equal(t, description, a.str("error_description"))
}

const invalidProof = "The DPoP proof is invalid. "

// TestDeviceGrantWithDPoP: a public device client that polls with a proof gets DPoP tokens bound to its
// key (access and refresh, RFC 9449 §5), and its refresh token then works only with a proof by that
// key; a refused refresh changes nothing.
func TestDeviceGrantWithDPoP(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	key, thief := newProver(t, jose.ES256), newProver(t, jose.ES256)

	code := s.approvedDevice("tv")
	tok := s.post("/token", pollForm("tv", code), "", s.proof(key))
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)
	require.Equal(t, "DPoP", tok.str("token_type"))
	require.Equal(t, key.jkt, s.boundTo(tok.str("access_token")))
	require.Equal(t, key.jkt, s.boundTo(tok.str("refresh_token")))
	rt := tok.str("refresh_token")

	requireRefused(t, s.post("/token", refreshForm("tv", rt), "", s.proof(thief)),
		"invalid_dpop_proof", invalidProof+"The DPoP proof is made with another key than the one the grant is bound to.")
	requireRefused(t, s.post("/token", refreshForm("tv", rt), ""),
		"invalid_dpop_proof", invalidProof+"The grant is bound to a DPoP key: the request must carry a proof made with that key.")

	again := s.post("/token", refreshForm("tv", rt), "", s.proof(key))
	require.Equal(t, http.StatusOK, again.status, "the refused attempts changed nothing: %v", again.body)
	require.Equal(t, "DPoP", again.str("token_type"))
	require.Equal(t, key.jkt, s.boundTo(again.str("access_token")))
	require.Equal(t, key.jkt, s.boundTo(again.str("refresh_token")), "the rotated refresh token stays bound")
}

// TestWithoutProofTokensAreBearer: a client that sends no proof gets bearer tokens, as before.
func TestWithoutProofTokensAreBearer(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	tok := s.post("/token", pollForm("tv", s.approvedDevice("tv")), "")
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)
	require.Equal(t, "bearer", tok.str("token_type"))
	require.Empty(t, s.boundTo(tok.str("access_token")))
	ref := s.post("/token", refreshForm("tv", tok.str("refresh_token")), "", s.proof(newProver(t, jose.ES256)))
	require.Equal(t, http.StatusOK, ref.status, "%v", ref.body)
	require.Equal(t, "DPoP", ref.str("token_type"), "a bearer grant may start using DPoP")
}

// TestConfidentialClientRefresh: a confidential client's refresh token is bound to its credentials,
// not to a key (RFC 9449 §5): it may refresh with a new key, or without a proof for bearer tokens.
func TestConfidentialClientRefresh(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	first, second := newProver(t, jose.ES256), newProver(t, jose.PS256)
	tok := s.post("/token", pollForm("svc", s.approvedDevice("svc")), "svc", s.proof(first))
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)
	require.Equal(t, "DPoP", tok.str("token_type"))

	rotated := s.post("/token", refreshForm("svc", tok.str("refresh_token")), "svc", s.proof(second))
	require.Equal(t, http.StatusOK, rotated.status, "%v", rotated.body)
	require.Equal(t, second.jkt, s.boundTo(rotated.str("access_token")))

	bearer := s.post("/token", refreshForm("svc", rotated.str("refresh_token")), "svc")
	require.Equal(t, http.StatusOK, bearer.status, "%v", bearer.body)
	require.Equal(t, "bearer", bearer.str("token_type"))
	require.Empty(t, s.boundTo(bearer.str("access_token")))
}

// TestBoundAccessTokensClient: a client registered with dpop_bound_access_tokens (RFC 9449 §5.2) is
// refused without a proof, and the refusal leaves its approved grant to redeem.
func TestBoundAccessTokensClient(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	code := s.approvedDevice("strict-tv")
	requireRefused(t, s.post("/token", pollForm("strict-tv", code), ""),
		"invalid_dpop_proof", invalidProof+"The client registered dpop_bound_access_tokens: every token request must carry a DPoP proof.")
	tok := s.post("/token", pollForm("strict-tv", code), "", s.proof(newProver(t, jose.EdDSA)))
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)
	require.Equal(t, "DPoP", tok.str("token_type"))
}

// TestBadProofsAtTheTokenEndpoint: each bad proof is refused with invalid_dpop_proof and its reason,
// and leaves the approved grant unconsumed.
func TestBadProofsAtTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	key := newProver(t, jose.ES256)
	code := s.approvedDevice("tv")
	url := s.url + "/token"
	now := s.clock.Now()
	replayed := s.proof(key)
	ok := s.post("/token", url2("client_credentials"), "svc", replayed)
	require.Equal(t, http.StatusOK, ok.status, "%v", ok.body)
	for _, tc := range []struct {
		name   string
		proofs []string
		hint   string
	}{
		{"wrong method", []string{key.proof(http.MethodGet, url, now)}, "The DPoP proof's htm claim does not match the request's method."},
		{"wrong URL", []string{key.proof(http.MethodPost, s.url+"/other", now)}, "The DPoP proof's htu claim does not match the URL of this endpoint."},
		{"stale iat", []string{key.sign(claims(http.MethodPost, url, now.Add(-2*dpop.DefaultMaxAge)), nil)}, "The DPoP proof's iat claim is more than 60 seconds old; make a new proof for each request."},
		{"replayed jti", []string{replayed}, "The DPoP proof was already used; make a new proof, with a new jti, for each request."},
		{"alg none", []string{unsigned(t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}, claims(http.MethodPost, url, now), "")}, "The DPoP proof's alg 'none' is not accepted; use an asymmetric algorithm of: ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA."},
		{"private key in jwk", []string{key.sign(claims(http.MethodPost, url, now), map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: key.key}})}, "The DPoP proof's jwk header must be a public key; it holds the private or symmetric key member 'd'."},
		{"two DPoP headers", []string{s.proof(key), s.proof(key)}, "The request carries more than one DPoP header."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireRefused(t, s.post("/token", pollForm("tv", code), "", tc.proofs...), "invalid_dpop_proof", invalidProof+tc.hint)
		})
	}
	tok := s.post("/token", pollForm("tv", code), "", s.proof(key))
	require.Equal(t, http.StatusOK, tok.status, "no refusal consumed the grant: %v", tok.body)
}

func url2(grant string) url.Values { return url.Values{"grant_type": {grant}, "scope": {"photos"}} }

// TestNonceAtTheTokenEndpoint: with nonces required, the first proof gets use_dpop_nonce and a nonce in
// DPoP-Nonce; the retry with it gets tokens (RFC 9449 §8).
func TestNonceAtTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{RequireNonce: true}, nil)
	key := newProver(t, jose.ES256)
	first := s.post("/token", url2("client_credentials"), "svc", s.proof(key))
	requireRefused(t, first, "use_dpop_nonce", "The server requires a nonce in the DPoP proof: retry with the one in the DPoP-Nonce header. The DPoP proof lacks the nonce the server requires.")
	nonce := first.header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	c := claims(http.MethodPost, s.url+"/token", s.clock.Now())
	c["nonce"] = nonce
	tok := s.post("/token", url2("client_credentials"), "svc", key.sign(c, nil))
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)
	require.Equal(t, "DPoP", tok.str("token_type"))
}

// TestIntrospectionOfBoundTokens: introspection returns token_type DPoP and cnf.jkt for a bound access
// token (RFC 9449 §6.2), cnf for a public client's bound refresh token, and neither for bearer tokens.
func TestIntrospectionOfBoundTokens(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	key := newProver(t, jose.ES256)
	tok := s.post("/token", pollForm("tv", s.approvedDevice("tv")), "", s.proof(key))
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)

	at := s.post("/introspect", url.Values{"token": {tok.str("access_token")}}, "svc")
	require.Equal(t, true, at.body["active"])
	require.Equal(t, "DPoP", at.str("token_type"))
	require.Equal(t, map[string]any{"jkt": key.jkt}, at.body["cnf"])
	rt := s.post("/introspect", url.Values{"token": {tok.str("refresh_token")}}, "svc")
	require.Equal(t, map[string]any{"jkt": key.jkt}, rt.body["cnf"])
	require.NotContains(t, rt.body, "token_type")

	bearer := s.post("/token", url2("client_credentials"), "svc")
	in := s.post("/introspect", url.Values{"token": {bearer.str("access_token")}}, "svc")
	require.Equal(t, "bearer", in.str("token_type"))
	require.NotContains(t, in.body, "cnf")
}

// TestUnknownGrantTypeStaysUnsupported: the DPoP handler serves no grant: an unknown grant type with a
// proof is still unsupported_grant_type.
func TestUnknownGrantTypeStaysUnsupported(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, nil)
	a := s.post("/token", url2("urn:example:nope"), "svc", s.proof(newProver(t, jose.ES256)))
	require.Equal(t, "unsupported_grant_type", a.str("error"))
}

// TestSessionWithoutPlaceForBinding: a proof sent to a server whose sessions cannot carry a binding is
// refused with server_error rather than answered with unbound tokens.
func TestSessionWithoutPlaceForBinding(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{}, func() fosite.Session { return openid.NewDefaultSession() })
	a := s.post("/token", url2("client_credentials"), "svc", s.proof(newProver(t, jose.ES256)))
	require.Equal(t, http.StatusInternalServerError, a.status)
	require.Equal(t, "server_error", a.str("error"))
	a = s.post("/token", url2("client_credentials"), "svc")
	require.Equal(t, http.StatusOK, a.status, "without a proof nothing needs a binding")
}

// fositeServer composes with fosite's own compose.Compose, in the given order, and serves the token
// endpoint. The session is fosite's JWT session, so access tokens are JWTs.
func fositeServer(t *testing.T, dpopFirst bool) (string, *fakeClock) {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	c := newClock()
	store := memory.New()
	config := &fosite.Config{GlobalSecret: secret, TokenURL: base + "/token", AccessTokenIssuer: base,
		ClientSecretsHasher: &fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}}
	hash, err := config.ClientSecretsHasher.Hash(ctx, []byte(clientPass))
	require.NoError(t, err)
	require.NoError(t, store.SetClient(ctx, &fosite.DefaultClient{ID: "svc", Secret: hash, GrantTypes: []string{"client_credentials"}, Scopes: []string{"photos"}}))
	signing, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	strategy := &fcompose.CommonStrategy{CoreStrategy: fcompose.NewOAuth2JWTStrategy(
		func(context.Context) (interface{}, error) { return signing, nil }, fcompose.NewOAuth2HMACStrategy(config), config)}
	holder := compose.NewDPoP(dpop.Options{Now: c.Now})
	factories := []fcompose.Factory{fcompose.OAuth2ClientCredentialsGrantFactory}
	if dpopFirst {
		factories = append([]fcompose.Factory{holder.Factory}, factories...)
	} else {
		factories = append(factories, holder.Factory)
	}
	provider := fcompose.Compose(config, store, strategy, factories...)
	compose.WarmDefaults(config)
	srv.Config.Handler = tokenEndpoint(provider, func() fosite.Session { return &oauth2.JWTSession{} })
	srv.Start()
	t.Cleanup(srv.Close)
	return base, c
}

// TestWithFositeCompose: with fosite's compose.Compose the DPoP factory goes last; there, a JWT access
// token carries cnf.jkt (RFC 9449 §6.1). Composed before a grant, the handler refuses to serve rather
// than issue unbound tokens.
func TestWithFositeCompose(t *testing.T) {
	t.Parallel()
	key := newProver(t, jose.ES256)
	base, c := fositeServer(t, false)
	s := &tokenServer{t: t, url: base, clock: c}
	tok := s.post("/token", url2("client_credentials"), "svc", s.proof(key))
	require.Equal(t, http.StatusOK, tok.status, "%v", tok.body)
	require.Equal(t, "DPoP", tok.str("token_type"))
	parts := strings.Split(tok.str("access_token"), ".")
	require.Len(t, parts, 3, "a JWT access token")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, map[string]any{"jkt": key.jkt}, claims["cnf"])

	base, c = fositeServer(t, true)
	s = &tokenServer{t: t, url: base, clock: c}
	a := s.post("/token", url2("client_credentials"), "svc", s.proof(key))
	require.Equal(t, http.StatusInternalServerError, a.status)
	require.Equal(t, "server_error", a.str("error"))
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestProverTransport: the client side. A Prover's transport signs every request, answers
// use_dpop_nonce by retrying once with the server's nonce, and keeps that nonce for the next request.
func TestProverTransport(t *testing.T) {
	t.Parallel()
	s := newTokenServer(t, dpop.Options{RequireNonce: true}, nil)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p, err := dpop.NewProver(key)
	require.NoError(t, err)
	p.Now = s.clock.Now
	counter := &countingTransport{}
	client := &http.Client{Transport: p.Transport(counter)}
	get := func() map[string]any {
		req, err := http.NewRequest(http.MethodPost, s.url+"/token", strings.NewReader(url2("client_credentials").Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", clientPass)
		res, err := client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&m))
		require.Equal(t, http.StatusOK, res.StatusCode, "%v", m)
		return m
	}
	tok := get()
	require.Equal(t, "DPoP", tok["token_type"])
	require.Equal(t, 2, counter.n, "one use_dpop_nonce, one retry")
	require.Equal(t, p.JKT(), s.boundTo(tok["access_token"].(string)))
	get()
	require.Equal(t, 3, counter.n, "the nonce was kept")

	proof, err := p.Proof(http.MethodGet, "https://rs.example/api?q=1#f", "tok", "")
	require.NoError(t, err)
	parsed, err := dpop.ParseProof(proof, dpop.DefaultAlgorithms)
	require.NoError(t, err)
	require.Equal(t, "https://rs.example/api", parsed.URL)
	require.Equal(t, dpop.AccessTokenHash("tok"), parsed.ATH)
	require.Equal(t, p.JKT(), parsed.JKT)
}
