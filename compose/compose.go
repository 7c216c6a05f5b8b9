// Package compose puts this module's grants into a fosite provider.
//
// Each grant package has a typed constructor (rfc8628.New, ciba.New, otp.New, reciprocal.New,
// registration.New) that takes fosite's configuration, the store, the token strategies and the grant's
// options, and returns a bundle: fosite's token endpoint handler plus the endpoints fosite has no place
// for, and the discovery metadata. This package adapts those constructors to fosite's own composition:
// each New…Grant function returns a value whose Factory method has fosite's compose.Factory
// signature, so it goes into fosite's compose.Compose — or Hydra's driver.WithExtraFositeFactories —
// next to fosite's factories, with any fosite.Configurator. Once the factory has run, the value holds
// the grant's bundle:
//
//	device := compose.NewDeviceGrant(rfc8628.Options{
//		AuthorizationURL: "https://id.example.com/oauth2/device/auth",
//		VerificationURI:  "https://example.com/device",
//	})
//	provider := fcompose.Compose(config, store, strategy,
//		fcompose.OAuth2RefreshTokenGrantFactory,
//		device.Factory,
//	)
//	mux.Handle("/oauth2/device/auth", device.Authorization) // the device authorization endpoint
//	// device.Verifier backs the verification page; provider's token endpoint serves the device_code grant.
//
// Compose does the same as fosite's compose.Compose and returns a Provider that also answers
// unsupported_grant_type for unknown grant types (fosite v0.49.0 answers invalid_request) and merges
// the discovery metadata of what it composed.
//
// A factory panics when the store or the strategy lacks what its grant needs, naming the missing
// interface, or when the grant's options cannot work: a misconfigured server fails at start-up.
//
// NewDPoP adds sender-constrained tokens (RFC 9449, package dpop) to every grant composed with it: its
// handler must run after every other token handler, which Compose sees to; with fosite's compose.Compose
// list its factory last.
//
// Compose a *fosite.Config once: fosite registers handlers on it and ignores a second handler of the
// same type, so composing the same configuration again keeps the first grant (and its store).
package compose

import (
	"context"
	"fmt"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/rfc7523"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
)

// Provider is what Compose returns: fosite's OAuth2Provider with the composed handlers registered, and
// the discovery metadata of what was composed.
type Provider struct {
	fosite.OAuth2Provider
	// Fosite is the same provider as its concrete type, which authenticates clients.
	Fosite *fosite.Fosite

	results []interface{}
}

// Compose builds a fosite provider from fosite's factories and this module's grant factories, like
// fosite's own compose.Compose. storage must implement fosite.Storage and what each factory needs;
// strategy is fosite's (e.g. a *compose.CommonStrategy).
//
// It also registers a token handler that answers unsupported_grant_type (RFC 6749 §5.2) for a grant
// type no other handler serves, and fills in the defaults fosite v0.49.0 sets lazily (which races when
// the first requests are concurrent). The DPoP handler (NewDPoP) goes after all of them, wherever its
// factory is in the list: it binds what the grant handlers prepared and types what they issued, so it
// must run after them (see package dpop).
func Compose(config *fosite.Config, storage, strategy interface{}, factories ...fcompose.Factory) *Provider {
	st, ok := storage.(fosite.Storage)
	if !ok {
		panic(fmt.Sprintf("compose: the storage (%T) does not implement fosite.Storage", storage))
	}
	f := fosite.NewOAuth2Provider(st, config)
	p := &Provider{OAuth2Provider: f, Fosite: f}
	var last []fosite.TokenEndpointHandler
	for _, factory := range factories {
		res := factory(config, storage, strategy)
		if ah, ok := res.(fosite.AuthorizeEndpointHandler); ok {
			config.AuthorizeEndpointHandlers.Append(ah)
		}
		if th, ok := res.(fosite.TokenEndpointHandler); ok {
			if crossCutting(th) {
				last = append(last, th)
			} else {
				config.TokenEndpointHandlers.Append(quiet(th))
			}
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
		p.results = append(p.results, res)
	}
	config.TokenEndpointHandlers.Append(&unsupportedGrantType{config: config})
	for _, th := range last {
		config.TokenEndpointHandlers.Append(th)
	}
	WarmDefaults(config)
	return p
}

// WarmDefaults makes fosite fill in the defaults it sets lazily on the first call of a getter, so that
// the first concurrent requests do not race to write them. Compose calls it; call it yourself after
// fosite's own compose.Compose.
func WarmDefaults(config fosite.Configurator) {
	ctx := context.Background()
	config.GetSecretsHasher(ctx)
	config.GetScopeStrategy(ctx)
	config.GetAudienceStrategy(ctx)
	config.GetJWKSFetcherStrategy(ctx)
}

// GrantTypesSupported lists the grant types the composed token handlers serve, in composition order,
// for discovery (RFC 8414 grant_types_supported).
func (p *Provider) GrantTypesSupported() []string {
	out := []string{}
	seen := map[string]bool{}
	for _, res := range p.results {
		for _, g := range grantTypesOf(res) {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	return out
}

// Metadata returns the composed share of the authorization server metadata (RFC 8414, OpenID Connect
// Discovery): grant_types_supported, and the metadata of each grant of this module (its endpoints and
// capabilities). Merge it into yours.
func (p *Provider) Metadata() map[string]interface{} {
	m := map[string]interface{}{}
	for _, res := range p.results {
		if mp, ok := res.(interface{ Metadata() map[string]any }); ok {
			for k, v := range mp.Metadata() {
				if k != "grant_types_supported" {
					m[k] = v
				}
			}
		}
	}
	m["grant_types_supported"] = p.GrantTypesSupported()
	return m
}

// grantTypesOf maps a composed handler to the grant types it serves at the token endpoint.
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
	//lint:ignore SA1019 fosite still ships the handler; a server that composes it serves the grant type.
	case *oauth2.ResourceOwnerPasswordCredentialsGrantHandler:
		return []string{"password"}
	case *rfc7523.Handler:
		return []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}
	}
	return nil
}

// TokenStrategies finds the token strategies of this module's grants in the strategy value a fosite
// compose.Factory receives (e.g. a *compose.CommonStrategy): the access and refresh token strategies
// are required, the OpenID Connect token strategy is optional (no ID tokens without it).
func TokenStrategies(strategy interface{}) (pending.TokenStrategies, error) {
	at, ok := strategy.(oauth2.AccessTokenStrategy)
	if !ok {
		return pending.TokenStrategies{}, fmt.Errorf("the strategy (%T) does not implement oauth2.AccessTokenStrategy", strategy)
	}
	rt, ok := strategy.(oauth2.RefreshTokenStrategy)
	if !ok {
		return pending.TokenStrategies{}, fmt.Errorf("the strategy (%T) does not implement oauth2.RefreshTokenStrategy", strategy)
	}
	s := pending.TokenStrategies{AccessToken: at, RefreshToken: rt}
	if ids, ok := strategy.(openid.OpenIDConnectTokenStrategy); ok {
		s.IDToken = ids
	}
	return s, nil
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

func mustNot(err error, factory string) {
	if err != nil {
		panic(fmt.Sprintf("compose: %s: %v", factory, err))
	}
}

// crossCutting reports whether h serves no grant of its own but acts on every token request (the DPoP
// handler): it comes after every other handler, and does not make a grant type supported.
func crossCutting(h fosite.TokenEndpointHandler) bool {
	_, ok := h.(*dpop.Handler)
	return ok
}

// quiet wraps the token handlers of fosite whose PopulateTokenEndpointResponse begins by refusing a
// request they cannot handle: fosite asks every token handler to populate every response, and each of
// them refuses with an error carrying a stack trace, whose capture costs more than the rest of the
// refusal. The wrapper refuses with the bare fosite.ErrUnknownRequest, which fosite's loop skips the
// same way. Other handlers are returned as they are.
func quiet(th fosite.TokenEndpointHandler) fosite.TokenEndpointHandler {
	switch h := th.(type) {
	case *oauth2.AuthorizeExplicitGrantHandler:
		return &quietHandler[*oauth2.AuthorizeExplicitGrantHandler]{h}
	case *oauth2.ClientCredentialsGrantHandler:
		return &quietHandler[*oauth2.ClientCredentialsGrantHandler]{h}
	case *oauth2.RefreshTokenGrantHandler:
		return &quietHandler[*oauth2.RefreshTokenGrantHandler]{h}
	case *openid.OpenIDConnectExplicitHandler:
		return &quietHandler[*openid.OpenIDConnectExplicitHandler]{h}
	case *openid.OpenIDConnectRefreshHandler:
		return &quietHandler[*openid.OpenIDConnectRefreshHandler]{h}
	}
	return th
}

// quietHandler is generic so that each wrapped handler has a type of its own: fosite's
// TokenEndpointHandlers.Append keeps one handler per type.
type quietHandler[T fosite.TokenEndpointHandler] struct{ h T }

func (q *quietHandler[T]) CanHandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) bool {
	return q.h.CanHandleTokenEndpointRequest(ctx, req)
}

func (q *quietHandler[T]) CanSkipClientAuth(ctx context.Context, req fosite.AccessRequester) bool {
	return q.h.CanSkipClientAuth(ctx, req)
}

func (q *quietHandler[T]) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	return q.h.HandleTokenEndpointRequest(ctx, req)
}

func (q *quietHandler[T]) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !q.h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return q.h.PopulateTokenEndpointResponse(ctx, req, resp)
}

// unsupportedGrantType answers unsupported_grant_type (RFC 6749 §5.2) for a grant type no other token
// handler serves.
type unsupportedGrantType struct{ config fosite.Configurator }

// CanHandleTokenEndpointRequest reports whether no other token handler serves the request. It asks the
// others in turn, stopping at the first that can; fosite's loop has already asked them, so each answer
// is a cheap comparison of grant types.
func (u *unsupportedGrantType) CanHandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) bool {
	for _, h := range u.config.GetTokenEndpointHandlers(ctx) {
		if _, self := h.(*unsupportedGrantType); self || crossCutting(h) {
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
