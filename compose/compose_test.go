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
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/notify"
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
			[]fcompose.Factory{compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device"}).Factory},
			map[string]interface{}{"grant_types_supported": []string{deviceGrant}}},
		{"nothing composed", "", nil,
			map[string]interface{}{"grant_types_supported": []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &fosite.Config{GlobalSecret: secret}
			p := compose.Compose(cfg, memory.New(), newStrategy(cfg), tc.factories...)
			require.Equal(t, tc.want, p.Metadata())
		})
	}
}

func TestComposeWiresDevice(t *testing.T) {
	t.Parallel()
	cfg := &fosite.Config{GlobalSecret: secret}
	device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device",
		UserCodeLimits: pending.Limits{PerAddress: 7, Global: 70, Window: time.Hour}})
	require.Nil(t, device.Grant, "nothing until composed")
	p := compose.Compose(cfg, memory.New(), newStrategy(cfg), device.Factory)
	require.NotNil(t, device.Authorization)
	require.NotNil(t, device.Verifier)
	require.Equal(t, pending.Limits{PerAddress: 7, Global: 70, PerAccount: 20, GlobalSignedIn: 1000, Window: time.Hour},
		device.Options().UserCodeLimits, "zero limits take the defaults")
	require.Same(t, p.Fosite, p.OAuth2Provider)
	require.Contains(t, cfg.TokenEndpointHandlers, fosite.TokenEndpointHandler(device.Grant), "the grant is fosite's token handler")
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

// hydraLikeConfig is a fosite.Configurator of another concrete type than *fosite.Config, as Hydra's
// fositex.Config is: the factories read only what the Configurator interface gives.
type hydraLikeConfig struct{ *fosite.Config }

// TestFactoriesWithFositesCompose: every grant's factory goes into fosite's own compose.Compose, with
// any fosite.Configurator, and after it the grant holds working endpoints — the device authorization
// endpoint issues codes that fosite's token endpoint then answers for.
func TestFactoriesWithFositesCompose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fcfg := &fosite.Config{GlobalSecret: secret, IDTokenIssuer: "https://example.com"}
	var cfg fosite.Configurator = hydraLikeConfig{fcfg}
	store := memory.New()
	require.NoError(t, store.SetClient(ctx, &fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: []string{deviceGrant}}))

	device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device"})
	cibaGrant := compose.NewCIBAGrant(ciba.Options{Resolver: nobody{}, Devices: nobody{}})
	otpGrant := compose.NewOTPGrant(otp.Options{Directory: otp.DirectoryFunc(func(context.Context, string) (*otp.Account, error) {
		return nil, otp.ErrUnknownAccount
	}), Sender: notify.NewOutbox(1)})
	recip := compose.NewReciprocalGrant(reciprocal.Options{})
	reg := compose.NewRegistration(registration.Options{Tokens: registration.NewStaticTokens("t")})
	var handlers []interface{}
	for _, f := range []fcompose.Factory{device.Factory, cibaGrant.Factory, otpGrant.Factory, recip.Factory, reg.Factory} {
		handlers = append(handlers, f(cfg, store, newStrategy(fcfg)))
	}
	require.NotNil(t, cibaGrant.Backchannel)
	require.NotNil(t, otpGrant.Challenge)
	require.NotNil(t, recip.Issuer)
	require.NotNil(t, reg.Endpoint)
	for _, h := range handlers[:4] {
		require.Implements(t, (*fosite.TokenEndpointHandler)(nil), h)
	}

	provider := fcompose.Compose(fcfg, store, newStrategy(fcfg), device.Factory)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/device", strings.NewReader("client_id=tv"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	device.Authorization.ServeHTTP(rec, r)
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

// nobody is a CIBA hint resolver and authentication device that knows nobody.
type nobody struct{}

func (nobody) ResolveHint(context.Context, ciba.Hint) (*ciba.User, error) {
	return nil, ciba.ErrUnknownUserID
}
func (nobody) Notify(context.Context, ciba.Notification) error { return nil }

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

// onlyTokens hides everything but fosite.Storage and the pending-grant token storage: no attempt counter.
type onlyTokens struct {
	fosite.Storage
	pending.TokenStorage
}

// TestFactoryPanics: a factory given the wrong parts fails at start-up and names what is missing.
func TestFactoryPanics(t *testing.T) {
	t.Parallel()
	fcfg := &fosite.Config{GlobalSecret: secret}
	device := func() *compose.DeviceGrant {
		return compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device"})
	}
	for _, tc := range []struct {
		name string
		call func()
		want string
	}{
		{"storage without the device grant's interfaces", func() {
			device().Factory(fcfg, fositestorage.NewMemoryStore(), newStrategy(fcfg))
		}, "rfc8628.Storage"},
		{"storage without attempt counters", func() {
			m := memory.New()
			compose.Compose(&fosite.Config{GlobalSecret: secret}, onlyTokens{Storage: m, TokenStorage: m}, newStrategy(fcfg), device().Factory)
		}, "rfc8628.Storage"},
		{"storage that is not fosite.Storage", func() {
			compose.Compose(&fosite.Config{GlobalSecret: secret}, struct{}{}, newStrategy(fcfg))
		}, "fosite.Storage"},
		{"strategy without access tokens", func() {
			device().Factory(fcfg, memory.New(), struct{}{})
		}, "oauth2.AccessTokenStrategy"},
		{"kiosk without its store", func() {
			compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device",
				Kiosk: &rfc8628.KioskOptions{}}).Factory(fcfg, memory.New(), newStrategy(fcfg))
		}, "Options.Kiosk needs Staff and Accounts"},
		{"no verification URI", func() {
			compose.NewDeviceGrant(rfc8628.Options{}).Factory(fcfg, memory.New(), newStrategy(fcfg))
		}, "VerificationURI is required"},
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
	cfg := &fosite.Config{GlobalSecret: secret}
	compose.Compose(cfg, memory.New(), newStrategy(cfg), compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://x/d"}).Factory)
	require.NotNil(t, cfg.ClientSecretsHasher)
	require.NotNil(t, cfg.ScopeStrategy)
	require.NotNil(t, cfg.AudienceMatchingStrategy)
	require.NotNil(t, cfg.JWKSFetcherStrategy)
}

// TestComposeRefusesInvalidUserCodeFormat: a user-code format that cannot work (an empty alphabet makes
// every device request panic; a lower-case one issues codes Normalize can never match) should stop
// start-up with Validate's message.
func TestComposeRefusesInvalidUserCodeFormat(t *testing.T) {
	t.Parallel()
	for _, f := range []pending.UserCodeFormat{{Length: 8}, {Alphabet: "abcdefgh", Length: 8}, {Alphabet: "BCDF", Length: 3}} {
		cfg := &fosite.Config{GlobalSecret: secret}
		msg := panicMessage(func() {
			compose.Compose(cfg, memory.New(), newStrategy(cfg),
				compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://x/d", UserCodeFormat: f}).Factory)
		})
		require.Contains(t, msg, "user code format")
	}
}
