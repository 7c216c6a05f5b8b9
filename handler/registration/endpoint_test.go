package registration_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

const goodToken = "initial-access-token"

var issuedAt = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type config struct {
	policy *registration.Policy
	hasher fosite.Hasher
}

func (c *config) GetSecretsHasher(context.Context) fosite.Hasher             { return c.hasher }
func (c *config) GetRegistrationPolicy(context.Context) *registration.Policy { return c.policy }

// countingStore is the memory store, counting the clients created through it.
type countingStore struct {
	*memory.MemoryStore
	mu      sync.Mutex
	created []string
}

func (s *countingStore) CreateClient(ctx context.Context, c fosite.Client) error {
	if err := s.MemoryStore.CreateClient(ctx, c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created = append(s.created, c.GetID())
	return nil
}

func (s *countingStore) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.created) }

type fixture struct {
	store *countingStore
	ep    *registration.Endpoint
	srv   *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := &countingStore{MemoryStore: memory.New()}
	ep := &registration.Endpoint{
		Storage: st,
		Tokens:  registration.NewStaticTokens("other-token", goodToken),
		Config:  &config{policy: testPolicy(), hasher: &fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}},
		Limiter: &pending.Limiter{Storage: st, Scope: "registration-token", Limits: pending.Limits{PerAddress: 3, Window: time.Minute}},
		Now:     func() time.Time { return issuedAt },
	}
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	ep.URL = srv.URL + "/register"
	return &fixture{store: st, ep: ep, srv: srv}
}

func (f *fixture) do(t *testing.T, method, token, contentType, body string) *grantstest.Response {
	t.Helper()
	return f.doURL(t, method, f.srv.URL+"/register", token, contentType, body)
}

func (f *fixture) doURL(t *testing.T, method, u, token, contentType, body string) *grantstest.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &grantstest.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (f *fixture) register(t *testing.T, body string) *grantstest.Response {
	return f.do(t, http.MethodPost, goodToken, "application/json", body)
}

func TestRegisterDeviceClientGolden(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.register(t, deviceBody(`,"software_id":"kiosk-app","software_version":"1.2","contacts":["ops@example.com"],"device_code_lifespan":604800`))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	id := res.String(t, "client_id")
	require.Len(t, id, 24, "144 random bits")
	require.NotContains(t, res.JSON(t), "client_secret", "private_key_jwt clients get no secret")
	rat := res.String(t, "registration_access_token")
	require.Len(t, rat, 43)
	require.Equal(t, f.srv.URL+"/register/"+id, res.String(t, "registration_client_uri"))
	grantstest.Golden(t, "register_device_private_key_jwt", res, map[string]string{
		id: "<client_id>", rat: "<registration_access_token>", f.srv.URL: "<server>"})

	stored, err := f.store.GetClient(context.Background(), id)
	require.NoError(t, err)
	c, ok := stored.(fosite.OpenIDConnectClient)
	require.True(t, ok, "the stored client is an OpenID Connect client")
	require.Equal(t, "private_key_jwt", c.GetTokenEndpointAuthMethod())
	require.Equal(t, "ES256", c.GetTokenEndpointAuthSigningAlgorithm())
	require.Len(t, c.GetJSONWebKeys().Keys, 1)
	require.False(t, stored.IsPublic())
	require.Equal(t, fosite.Arguments{"openid", "offline_access"}, stored.GetScopes())
	md := stored.(interface{ GetMetadata() map[string]any }).GetMetadata()
	require.Equal(t, "Kiosk phone", md["client_name"])
	require.Equal(t, float64(issuedAt.Unix()), md["client_id_issued_at"])
	require.Equal(t, 7*24*time.Hour, stored.(*registration.Client).GetDeviceCodeLifespan())
}

func TestRegisterSecretClientGolden(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.register(t, `{"client_name":"Web app","redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"client_secret_post","scope":"openid profile"}`)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	id, secret := res.String(t, "client_id"), res.String(t, "client_secret")
	require.Len(t, secret, 43, "256 random bits")
	grantstest.Golden(t, "register_client_secret_post", res, map[string]string{id: "<client_id>", secret: "<client_secret>",
		res.String(t, "registration_access_token"): "<registration_access_token>", f.srv.URL: "<server>"})

	stored, err := f.store.GetClient(context.Background(), id)
	require.NoError(t, err)
	require.NotEqual(t, secret, string(stored.GetHashedSecret()), "only the hash is stored")
	require.NoError(t, (&fosite.BCrypt{Config: &fosite.Config{}}).Compare(context.Background(), stored.GetHashedSecret(), []byte(secret)))
}

// TestRegisteredClientAuthenticatesWithPrivateKeyJWT checks the stored client works with fosite's own
// private_key_jwt authentication.
func TestRegisteredClientAuthenticatesWithPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pub, err := json.Marshal(jose.JSONWebKey{Key: key.Public(), KeyID: "device-1"})
	require.NoError(t, err)
	res := f.register(t, strings.Replace(deviceBody(""), ecPublicJWK, string(pub), 1))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	id := res.String(t, "client_id")

	const tokenURL = "https://as.example/oauth2/token"
	provider := fosite.NewOAuth2Provider(f.store, &fosite.Config{TokenURL: tokenURL})
	assertion := func(k *ecdsa.PrivateKey, jti string) url.Values {
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: "device-1"}}, nil)
		require.NoError(t, err)
		now := time.Now()
		raw, err := jwt.Signed(sig).Claims(jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{tokenURL}, ID: jti,
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}).CompactSerialize()
		require.NoError(t, err)
		return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {raw}}
	}
	r := httptest.NewRequest(http.MethodPost, tokenURL, nil)
	c, err := provider.AuthenticateClient(context.Background(), r, assertion(key, "jti-1"))
	require.NoError(t, err)
	require.Equal(t, id, c.GetID())

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = provider.AuthenticateClient(context.Background(), r, assertion(other, "jti-2"))
	require.ErrorIs(t, err, fosite.ErrInvalidClient, "a key the client did not register is refused")
}

func TestRegistrationErrorsGolden(t *testing.T) {
	t.Parallel()
	ciba := `,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"http://client.example/cb"`
	for _, tc := range []struct {
		name, method, token, contentType, body string
		status                                 int
	}{
		{"missing_token", http.MethodPost, "", "application/json", deviceBody(""), 401},
		{"bad_token", http.MethodPost, "wrong", "application/json", deviceBody(""), 401},
		{"put", http.MethodPut, goodToken, "", "", 405},
		{"form_body", http.MethodPost, goodToken, "application/x-www-form-urlencoded", "client_name=x", 400},
		{"oversized_body", http.MethodPost, goodToken, "application/json", `{"client_name":"` + strings.Repeat("x", 70<<10) + `"}`, 400},
		{"malformed_json", http.MethodPost, goodToken, "application/json", `{"client_name":`, 400},
		{"jwks_and_jwks_uri", http.MethodPost, goodToken, "application/json", deviceBody(`,"jwks_uri":"https://client.example/jwks"`), 400},
		{"private_key_in_jwks", http.MethodPost, goodToken, "application/json", strings.Replace(deviceBody(""), ecPublicJWK, ecPrivateJWK, 1), 400},
		{"hs256_for_private_key_jwt", http.MethodPost, goodToken, "application/json", deviceBody(`,"token_endpoint_auth_signing_alg":"HS256"`), 400},
		{"unknown_grant_type", http.MethodPost, goodToken, "application/json", deviceBody(`,"grant_types":["password"]`), 400},
		{"ping_http_notification_endpoint", http.MethodPost, goodToken, "application/json", deviceBody(ciba), 400},
		{"scope_not_allowed", http.MethodPost, goodToken, "application/json", deviceBody(`,"scope":"admin"`), 400},
		{"invalid_redirect_uri", http.MethodPost, goodToken, "application/json", `{"redirect_uris":["http://app.example/cb"]}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res := f.do(t, tc.method, tc.token, tc.contentType, tc.body)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			grantstest.Golden(t, "error_"+tc.name, res, nil)
			require.Zero(t, f.store.count(), "nothing is stored")
			switch tc.status {
			case 401:
				require.True(t, strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer"))
			case 405:
				require.Equal(t, "GET, POST", res.Header.Get("Allow"))
			}
		})
	}
}

func TestBadTokensAreRateLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		require.Equal(t, 401, f.do(t, http.MethodPost, "guess", "application/json", deviceBody("")).Status)
	}
	res := f.register(t, deviceBody(""))
	require.Equal(t, http.StatusTooManyRequests, res.Status, "even the right token waits once the limit is reached")
	grantstest.Golden(t, "error_too_many_bad_tokens", res, nil)
	require.Zero(t, f.store.count())
}

func TestTokenVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := registration.NewStaticTokens("a", "", "b")
	require.NoError(t, s.VerifyInitialAccessToken(ctx, "a"))
	require.NoError(t, s.VerifyInitialAccessToken(ctx, "b"))
	for _, bad := range []string{"", "c", "ab", "A"} {
		require.ErrorIs(t, s.VerifyInitialAccessToken(ctx, bad), registration.ErrInvalidToken, bad)
	}
	require.ErrorIs(t, registration.NewStaticTokens().VerifyInitialAccessToken(ctx, ""), registration.ErrInvalidToken)

	f := newFixture(t)
	f.ep.Tokens = registration.TokenVerifierFunc(func(context.Context, string) error { return errors.New("database down") })
	res := f.register(t, deviceBody(""))
	require.Equal(t, http.StatusInternalServerError, res.Status)
	require.Equal(t, "server_error", res.Error(t))
	require.NotContains(t, string(res.Body), "database down", "debug details stay on the server")
}

// TestReadRegistration covers RFC 7592's read: the registration access token returns the client's
// current registration, without its secret; anything else is a 401 that does not tell whether the
// client exists.
func TestReadRegistration(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.register(t, deviceBody(`,"device_code_lifespan":3600,"contacts":["ops@example.com"]`))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	created := res.JSON(t)
	id, rat, uri := res.String(t, "client_id"), res.String(t, "registration_access_token"), res.String(t, "registration_client_uri")

	got := f.doURL(t, http.MethodGet, uri, rat, "", "")
	require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
	grantstest.Golden(t, "read_device_private_key_jwt", got, map[string]string{id: "<client_id>", f.srv.URL: "<server>"})
	read := got.JSON(t)
	delete(created, "registration_access_token")
	require.Equal(t, created, read, "the read returns what the registration returned, minus the token")

	secret := f.register(t, `{"redirect_uris":["https://app.example/cb"],"scope":"openid"}`)
	require.Equal(t, http.StatusCreated, secret.Status)
	got = f.doURL(t, http.MethodGet, secret.String(t, "registration_client_uri"), secret.String(t, "registration_access_token"), "", "")
	require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
	require.NotContains(t, got.JSON(t), "client_secret", "only the secret's hash is stored")
	require.Equal(t, []any{"code"}, got.JSON(t)["response_types"])

	for _, tc := range []struct{ name, uri, token string }{
		{"no token", uri, ""},
		{"wrong token", uri, "wrong"},
		{"other client's token", uri, secret.String(t, "registration_access_token")},
	} {
		res := f.doURL(t, http.MethodGet, tc.uri, tc.token, "", "")
		require.Equal(t, http.StatusUnauthorized, res.Status, tc.name)
		require.Equal(t, "invalid_token", res.Error(t), tc.name)
	}
	unknown := f.doURL(t, http.MethodGet, f.srv.URL+"/register/unknown", rat, "", "")
	require.Equal(t, http.StatusUnauthorized, unknown.Status, "an unknown client looks like a wrong token (RFC 7592 §2.1)")
	grantstest.Golden(t, "read_unknown_client", unknown, nil)
	res = f.doURL(t, http.MethodGet, uri, rat, "", "")
	require.Equal(t, http.StatusTooManyRequests, res.Status, "wrong tokens count against the address")
	res = f.doURL(t, http.MethodGet, f.srv.URL+"/register", rat, "", "")
	require.Equal(t, http.StatusNotFound, res.Status)
}

func TestRegisterWithoutURLHasNoReadToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ep.URL = ""
	res := f.register(t, deviceBody(""))
	require.Equal(t, http.StatusCreated, res.Status)
	require.NotContains(t, res.JSON(t), "registration_access_token")
	require.NotContains(t, res.JSON(t), "registration_client_uri")
	res = f.do(t, http.MethodGet, goodToken, "", "")
	require.Equal(t, http.StatusMethodNotAllowed, res.Status)
	require.Equal(t, "POST", res.Header.Get("Allow"))
}

// TestLogsCarryNoSecrets: the log names registrations and refusals but never a token or secret.
func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	f.ep.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	res := f.register(t, `{"redirect_uris":["https://app.example/cb"],"scope":"openid"}`)
	require.Equal(t, http.StatusCreated, res.Status)
	f.do(t, http.MethodPost, "wrong-token-value", "application/json", deviceBody(""))
	f.doURL(t, http.MethodGet, res.String(t, "registration_client_uri"), "wrong-rat-value", "", "")

	mu.Lock()
	defer mu.Unlock()
	log := buf.String()
	require.Contains(t, log, "registered client")
	require.Contains(t, log, res.String(t, "client_id"))
	require.Contains(t, log, "registration refused")
	for _, secret := range []string{goodToken, "wrong-token-value", "wrong-rat-value", res.String(t, "client_secret"), res.String(t, "registration_access_token")} {
		require.NotContains(t, log, secret)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestDPoPBoundAccessTokensAreKept: a client that registers dpop_bound_access_tokens (RFC 9449 §5.2)
// is stored with it, reads it back (RFC 7592), and is one that package dpop holds to DPoP.
func TestDPoPBoundAccessTokensAreKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		extra string
		want  bool
	}{
		{"registered true", `,"dpop_bound_access_tokens":true`, true},
		{"registered false", `,"dpop_bound_access_tokens":false`, false},
		{"not registered", ``, false},
	} {
		res := f.register(t, deviceBody(tc.extra))
		require.Equal(t, http.StatusCreated, res.Status, "%s: %s", tc.name, res.Body)
		if tc.want {
			require.Equal(t, true, res.JSON(t)["dpop_bound_access_tokens"], tc.name)
		} else {
			require.NotContains(t, res.JSON(t), "dpop_bound_access_tokens", tc.name)
		}
		stored, err := f.store.GetClient(context.Background(), res.String(t, "client_id"))
		require.NoError(t, err)
		require.Equal(t, tc.want, dpop.Required(stored), tc.name)
		read := f.doURL(t, http.MethodGet, res.String(t, "registration_client_uri"), res.String(t, "registration_access_token"), "", "")
		require.Equal(t, http.StatusOK, read.Status, "%s", read.Body)
		require.Equal(t, res.JSON(t)["dpop_bound_access_tokens"], read.JSON(t)["dpop_bound_access_tokens"], tc.name)
	}
}
