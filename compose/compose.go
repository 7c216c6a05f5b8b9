package compose

import (
	"context"
	"fmt"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/rfc7523"
	fositehmac "github.com/ory/fosite/token/hmac"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// Provider is what Compose returns: fosite's OAuth2Provider with this module's handlers registered, plus
// the endpoints fosite has no place for.
type Provider struct {
	fosite.OAuth2Provider
	// Fosite is the same provider as its concrete type, which authenticates clients.
	Fosite *fosite.Fosite
	Config *Config

	// DeviceAuthorization is the device authorization endpoint (RFC 8628 §3.1); nil unless
	// RFC8628DeviceFactory was composed.
	DeviceAuthorization *rfc8628.DeviceAuthorizationEndpoint
	// DeviceVerifier is the user-code verification API (RFC 8628 §3.3); nil unless RFC8628DeviceFactory
	// was composed.
	DeviceVerifier *rfc8628.Verifier

	// CIBA holds the CIBA endpoints (see compose_ciba.go); nil unless the CIBA factory was composed.
	CIBA *CIBA
	// OTP holds the OTP grant's endpoints (see compose_otp.go); nil unless the OTP factory was composed.
	OTP *OTP
	// Reciprocal holds Reciprocal OAuth's parts (see compose_reciprocal.go); nil unless composed.
	Reciprocal *Reciprocal
	// Registration is the client registration endpoint (RFC 7591, see compose_registration.go); nil
	// unless RegistrationFactory was composed.
	Registration *registration.Endpoint

	grantTypes []string
}

// wirer connects a composed handler to the parts of a Provider that fosite has no place for (front
// endpoints, verification APIs). Each grant registers one from its own compose_<grant>.go file.
type wirer func(p *Provider, config *Config, storage interface{}, handler interface{})

// metadataFunc adds a grant's discovery metadata.
type metadataFunc func(p *Provider, m map[string]interface{})

var (
	wirers        []wirer
	metadataFuncs []metadataFunc
)

// Compose builds a fosite provider from fosite's factories and this module's, like fosite's own
// compose.Compose, and wires the endpoints of the grants it finds. storage must implement fosite.Storage
// and what each factory needs; strategy is fosite's (e.g. compose.CommonStrategy).
//
// It also registers a last token handler that answers unsupported_grant_type for a grant type no other
// handler serves (fosite v0.49.0 answers invalid_request there; RFC 6749 §5.2 names the right code).
func Compose(config *Config, storage, strategy interface{}, factories ...fcompose.Factory) *Provider {
	st, ok := storage.(fosite.Storage)
	if !ok {
		panic(fmt.Sprintf("compose: the storage (%T) does not implement fosite.Storage", storage))
	}
	f := fosite.NewOAuth2Provider(st, config)
	p := &Provider{OAuth2Provider: f, Fosite: f, Config: config}
	for _, factory := range factories {
		res := factory(config, storage, strategy)
		if ah, ok := res.(fosite.AuthorizeEndpointHandler); ok {
			config.AuthorizeEndpointHandlers.Append(ah)
		}
		if th, ok := res.(fosite.TokenEndpointHandler); ok {
			config.TokenEndpointHandlers.Append(th)
		}
		if tv, ok := res.(fosite.TokenIntrospector); ok {
			config.TokenIntrospectionHandlers.Append(tv)
		}
		if rh, ok := res.(fosite.RevocationHandler); ok {
			config.RevocationHandlers.Append(rh)
		}
		if ph, ok := res.(fosite.PushedAuthorizeEndpointHandler); ok {
			config.PushedAuthorizeEndpointHandlers.Append(ph)
		}
		p.grantTypes = append(p.grantTypes, grantTypesOf(res)...)
		for _, w := range wirers {
			w(p, config, storage, res)
		}
	}
	config.TokenEndpointHandlers.Append(&unsupportedGrantType{config: config})
	warmDefaults(config)
	return p
}

// warmDefaults makes fosite fill in the defaults it sets lazily on the first call of a getter, so that
// the first concurrent requests do not race to write them.
func warmDefaults(config *Config) {
	ctx := context.Background()
	config.GetSecretsHasher(ctx)
	config.GetScopeStrategy(ctx)
	config.GetAudienceStrategy(ctx)
	config.GetJWKSFetcherStrategy(ctx)
}

// GrantTypesSupported lists the grant types the composed token handlers serve, for discovery
// (RFC 8414 grant_types_supported).
func (p *Provider) GrantTypesSupported() []string {
	out := []string{}
	seen := map[string]bool{}
	for _, g := range p.grantTypes {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// Metadata returns this module's share of the authorization server metadata (RFC 8414, OpenID Connect
// Discovery): grant_types_supported and the endpoints of the composed grants. Merge it into yours.
func (p *Provider) Metadata() map[string]interface{} {
	m := map[string]interface{}{"grant_types_supported": p.GrantTypesSupported()}
	for _, f := range metadataFuncs {
		f(p, m)
	}
	return m
}

// grantTypesOf maps a handler to the grant types it serves at the token endpoint.
func grantTypesOf(h interface{}) []string {
	switch h := h.(type) {
	case interface{ GrantTypes() []fosite.GrantType }:
		out := []string{}
		for _, g := range h.GrantTypes() {
			out = append(out, string(g))
		}
		return out
	case *oauth2.AuthorizeExplicitGrantHandler:
		return []string{"authorization_code"}
	case *oauth2.AuthorizeImplicitGrantTypeHandler:
		return []string{"implicit"}
	case *oauth2.ClientCredentialsGrantHandler:
		return []string{"client_credentials"}
	case *oauth2.RefreshTokenGrantHandler:
		return []string{"refresh_token"}
	case *oauth2.ResourceOwnerPasswordCredentialsGrantHandler:
		return []string{"password"}
	case *rfc7523.Handler:
		return []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}
	}
	return nil
}

func newIssuer(cfg *Config, st pending.TokenStorage, strategy interface{}, factory string) *pending.TokenIssuer {
	i := &pending.TokenIssuer{
		AccessTokenStrategy:  mustImplement[oauth2.AccessTokenStrategy](strategy, "oauth2.AccessTokenStrategy", factory),
		RefreshTokenStrategy: mustImplement[oauth2.RefreshTokenStrategy](strategy, "oauth2.RefreshTokenStrategy", factory),
		Storage:              st,
		Config:               cfg,
		Now:                  cfg.Now,
	}
	if ids, ok := strategy.(openid.OpenIDConnectTokenStrategy); ok {
		i.IDTokenStrategy = ids
	}
	return i
}

// ourConfig returns config as this module's Config: as it is when it is one, wrapped with the defaults
// when it is a plain *fosite.Config.
func ourConfig(config fosite.Configurator) *Config {
	switch c := config.(type) {
	case *Config:
		return c
	case *fosite.Config:
		return &Config{Config: c}
	}
	panic(fmt.Sprintf("compose: the configuration (%T) is neither a *compose.Config nor a *fosite.Config", config))
}

// mustImplement asserts v implements T, or panics with a message naming what is missing: a factory given
// the wrong storage should fail at start-up and say why.
func mustImplement[T any](v interface{}, name, factory string) T {
	t, ok := v.(T)
	if !ok {
		panic(fmt.Sprintf("compose: %s needs a value implementing %s, got %T", factory, name, v))
	}
	return t
}

var _ fositehmac.HMACStrategyConfigurator = (*Config)(nil)

// unsupportedGrantType answers unsupported_grant_type (RFC 6749 §5.2) for a grant type no other token
// handler serves.
type unsupportedGrantType struct{ config *Config }

// CanHandleTokenEndpointRequest reports whether no other token handler serves the request. It asks the
// others in turn, stopping at the first that can; fosite's loop has already asked them, so each answer
// is a cheap comparison of grant types.
func (u *unsupportedGrantType) CanHandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) bool {
	for _, h := range u.config.GetTokenEndpointHandlers(ctx) {
		if _, self := h.(*unsupportedGrantType); self {
			continue
		}
		if h.CanHandleTokenEndpointRequest(ctx, req) {
			return false
		}
	}
	return true
}

func (u *unsupportedGrantType) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return true
}

func (u *unsupportedGrantType) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	if !u.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return fosite.ErrUnsupportedGrantType.WithHintf("The grant type '%s' is not supported.", req.GetRequestForm().Get("grant_type"))
}

func (u *unsupportedGrantType) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	return fosite.ErrUnknownRequest
}
