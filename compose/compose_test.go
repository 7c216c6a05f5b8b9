package compose_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	fositestorage "github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

var secret = []byte("0123456789abcdef0123456789abcdef")

// TestMetadata: RFC 8628 §4 and RFC 8414 — the device authorization endpoint and the grant types the
// composed handlers serve.
func TestMetadata(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	m := s.Provider.Metadata()
	require.Equal(t, gt.DeviceAuthorizationURL, m["device_authorization_endpoint"])
	grants, ok := m["grant_types_supported"].([]string)
	require.True(t, ok, "%T", m["grant_types_supported"])
	require.Subset(t, grants, []string{deviceGrant, "client_credentials", "refresh_token"})
	require.NotContains(t, grants, "authorization_code", "not composed")
	require.NotContains(t, grants, "password", "not composed")
	seen := map[string]bool{}
	for _, g := range grants {
		require.False(t, seen[g], "%q listed twice", g)
		seen[g] = true
	}
	require.Equal(t, grants, s.Provider.GrantTypesSupported())
}

func newStrategy(cfg *fosite.Config) *fcompose.CommonStrategy {
	key := func(context.Context) (interface{}, error) { return nil, fmt.Errorf("no key in this test") }
	return &fcompose.CommonStrategy{
		CoreStrategy:               fcompose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: fcompose.NewOpenIDConnectStrategy(key, cfg),
	}
}

func TestMetadataWithoutDevice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		url       string
		factories []fcompose.Factory
		want      map[string]interface{}
	}{
		{"device grant not composed", "https://example.com/device/auth",
			[]fcompose.Factory{fcompose.OAuth2ClientCredentialsGrantFactory, fcompose.OAuth2AuthorizeExplicitFactory},
			map[string]interface{}{"grant_types_supported": []string{"client_credentials", "authorization_code"}}},
		{"no endpoint URL configured", "",
			[]fcompose.Factory{compose.RFC8628DeviceFactory},
			map[string]interface{}{"grant_types_supported": []string{deviceGrant}}},
		{"nothing composed", "", nil,
			map[string]interface{}{"grant_types_supported": []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}, DeviceAuthorizationURL: tc.url}
			p := compose.Compose(cfg, memory.New(), newStrategy(cfg.Config), tc.factories...)
			require.Equal(t, tc.want, p.Metadata())
		})
	}
}

func TestComposeWiresDevice(t *testing.T) {
	t.Parallel()
	cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
	p := compose.Compose(cfg, memory.New(), newStrategy(cfg.Config), fcompose.OAuth2ClientCredentialsGrantFactory)
	require.Nil(t, p.DeviceAuthorization)
	require.Nil(t, p.DeviceVerifier)

	cfg = &compose.Config{Config: &fosite.Config{GlobalSecret: secret}, UserCodeAttemptsPerAddress: 7, UserCodeAttemptsGlobal: 70, UserCodeAttemptWindow: time.Hour}
	p = compose.Compose(cfg, memory.New(), newStrategy(cfg.Config), compose.RFC8628DeviceFactory)
	require.NotNil(t, p.DeviceAuthorization)
	require.NotNil(t, p.DeviceVerifier)
	require.Same(t, p.DeviceAuthorization.Codes, p.DeviceVerifier.Codes, "one Codes: what the endpoint issues the verifier recognises")
	l := p.DeviceVerifier.Limiter
	require.NotNil(t, l)
	require.Equal(t, 7, l.PerKey)
	require.Equal(t, 70, l.Global)
	require.Equal(t, time.Hour, l.Window)
	require.Same(t, p.Fosite, p.OAuth2Provider)
}

// TestUnsupportedGrantType: RFC 6749 §5.2 — a grant type no composed handler serves is
// unsupported_grant_type (fosite v0.49.0 alone says invalid_request).
func TestUnsupportedGrantType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		code   string
	}{
		{"unknown grant type", url.Values{"grant_type": {"urn:example:unknown"}, "client_id": {gt.PublicClientID}}, false,
			http.StatusBadRequest, "unsupported_grant_type"},
		{"unknown grant type without a client", url.Values{"grant_type": {"urn:example:unknown"}}, false,
			http.StatusBadRequest, "unsupported_grant_type"},
		{"authorization_code not composed", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, true,
			http.StatusBadRequest, "unsupported_grant_type"},
		{"password not composed", url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, true,
			http.StatusBadRequest, "unsupported_grant_type"},
		{"client_credentials composed", url.Values{"grant_type": {"client_credentials"}}, true,
			http.StatusOK, ""},
		{"composed grant, client not allowed", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {gt.NoRefreshClientID}}, false,
			http.StatusBadRequest, "unauthorized_client"},
		{"composed grant, failed client authentication", url.Values{"grant_type": {deviceGrant}, "device_code": {"x"}, "client_id": {"nobody"}}, false,
			http.StatusUnauthorized, "invalid_client"},
		{"no grant type", url.Values{"client_id": {gt.PublicClientID}}, false,
			http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			req := gt.Request{Path: gt.TokenPath, Form: tc.form}
			if tc.basic {
				req.BasicUser, req.BasicPassword = gt.ConfidentialClientID, gt.ConfidentialSecret
			}
			res := s.Do(t, req)
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			if tc.code != "" {
				require.Equal(t, tc.code, res.Error(t))
				if tc.name == "unknown grant type" {
					gt.Golden(t, "unsupported_grant_type", res, map[string]string{tc.form.Get("grant_type"): "<grant_type>"})
				}
			}
		})
	}
}

// TestRFC8628DeviceFactoryPlainConfig: the factory works with fosite's own compose and a plain
// *fosite.Config, using this module's defaults.
func TestRFC8628DeviceFactoryPlainConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fcfg := &fosite.Config{GlobalSecret: secret}
	store := memory.New()
	require.NoError(t, store.SetClient(ctx, &fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: []string{deviceGrant}}))

	h, ok := compose.RFC8628DeviceFactory(fcfg, store, newStrategy(fcfg)).(*rfc8628.TokenHandler)
	require.True(t, ok)
	require.Equal(t, 5*time.Second, h.Config.GetDevicePollingInterval(ctx))
	require.NotNil(t, h.Codes)
	require.NotNil(t, h.Issuer)

	provider := fcompose.Compose(fcfg, store, newStrategy(fcfg), compose.RFC8628DeviceFactory)
	f := provider.(*fosite.Fosite)
	endpoint := &rfc8628.DeviceAuthorizationEndpoint{
		Clients: f, Errors: f, Storage: store, Codes: pending.NewCodes(fcfg), Config: &compose.Config{Config: fcfg, DeviceVerificationURI: "https://example.com/device"},
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/device", strings.NewReader("client_id=tv"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	endpoint.ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := decode(t, rec.Body.String())

	for _, tc := range []struct{ name, code, want string }{
		{"issued code is pending", resp["device_code"], "authorization_pending"},
		{"garbage code", "garbage", "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {deviceGrant}, "client_id": {"tv"}, "device_code": {tc.code}}
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_, err := provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
			require.Error(t, err)
			require.Equal(t, tc.want, fosite.ErrorToRFC6749Error(err).ErrorField)
		})
	}
}

func decode(t *testing.T, body string) map[string]string {
	t.Helper()
	v := map[string]interface{}{}
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	out := map[string]string{}
	for k, x := range v {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// onlyTokens hides everything but fosite.Storage and the device grant's token storage: no attempt counter.
type onlyTokens struct {
	fosite.Storage
	rfc8628.TokenStorage
}

type notConfigurator struct{ *fosite.Config }

// TestFactoryPanics: a factory given the wrong parts fails at start-up and names what is missing.
func TestFactoryPanics(t *testing.T) {
	t.Parallel()
	fcfg := &fosite.Config{GlobalSecret: secret}
	for _, tc := range []struct {
		name string
		call func()
		want string
	}{
		{"storage without the device grant's interfaces", func() {
			compose.RFC8628DeviceFactory(fcfg, fositestorage.NewMemoryStore(), newStrategy(fcfg))
		}, "rfc8628.TokenStorage"},
		{"storage without attempt counters", func() {
			m := memory.New()
			cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
			compose.Compose(cfg, onlyTokens{Storage: m, TokenStorage: m}, newStrategy(cfg.Config), compose.RFC8628DeviceFactory)
		}, "pending.AttemptStorage"},
		{"storage that is not fosite.Storage", func() {
			cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
			compose.Compose(cfg, struct{}{}, newStrategy(cfg.Config))
		}, "fosite.Storage"},
		{"strategy without access tokens", func() {
			compose.RFC8628DeviceFactory(fcfg, memory.New(), struct{}{})
		}, "oauth2.AccessTokenStrategy"},
		{"configuration of another type", func() {
			compose.RFC8628DeviceFactory(notConfigurator{fcfg}, memory.New(), newStrategy(fcfg))
		}, "compose.Config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := panicMessage(tc.call)
			require.Contains(t, msg, tc.want)
			require.Contains(t, msg, "compose:")
		})
	}
}

func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return "no panic"
}

// TestComposeSetsLazyDefaults: fosite v0.49.0's Config getters for the secrets hasher, scope and audience
// strategies and JWKS fetcher write their default into the Config on first call. When the first calls
// come from concurrent requests (two clients authenticating at once after start-up) that is a data race.
// Compose runs before serving, on one goroutine: it should fill them in.
func TestComposeSetsLazyDefaults(t *testing.T) {
	t.Parallel()
	cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
	compose.Compose(cfg, memory.New(), newStrategy(cfg.Config), compose.RFC8628DeviceFactory)
	require.NotNil(t, cfg.Config.ClientSecretsHasher)
	require.NotNil(t, cfg.Config.ScopeStrategy)
	require.NotNil(t, cfg.Config.AudienceMatchingStrategy)
	require.NotNil(t, cfg.Config.JWKSFetcherStrategy)
}

// TestComposeRefusesInvalidUserCodeFormat: a user-code format that cannot work (an empty alphabet makes
// every device request panic; a lower-case one issues codes Normalize can never match) should stop
// start-up with Validate's message.
func TestComposeRefusesInvalidUserCodeFormat(t *testing.T) {
	t.Parallel()
	for _, f := range []pending.UserCodeFormat{{Length: 8}, {Alphabet: "abcdefgh", Length: 8}, {Alphabet: "BCDF", Length: 3}} {
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}, UserCodeFormat: f}
		msg := panicMessage(func() {
			compose.Compose(cfg, memory.New(), newStrategy(cfg.Config), compose.RFC8628DeviceFactory)
		})
		require.Contains(t, msg, "user code format")
	}
}
