package rfc6749

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ory/fosite"
)

// Provider returns a fosite provider for one of this module's endpoints, served at endpointURL, to
// authenticate clients and write errors there exactly as fosite's token endpoint does (every client
// authentication method, the same error shapes). A private_key_jwt client assertion sent to the
// endpoint may name, as its audience, the token endpoint (as fosite accepts), the issuer, or the
// endpoint itself (CIBA Core §7.1 names all three for its backchannel endpoint; RFC 7523 §3 asks only
// that the audience identify the authorization server).
//
// A ClientAuthenticationStrategy configured on config (clientauth.Limiter, say) applies here too; when
// it hands over to fosite's default strategy, it finds this provider's in the context
// (DefaultStrategy), so that the endpoint's audiences apply.
func Provider(config fosite.Configurator, store fosite.Storage, endpointURL string) *fosite.Fosite {
	c := &endpointConfig{Configurator: config, url: endpointURL}
	c.provider = fosite.NewOAuth2Provider(store, c)
	return c.provider
}

// endpointConfig is config with the endpoint's own URL and the issuer among the audiences of client
// assertions.
type endpointConfig struct {
	fosite.Configurator
	url      string
	provider *fosite.Fosite
}

// GetClientAuthenticationStrategy implements fosite.ClientAuthenticationStrategyProvider: the
// configured strategy, told (through the context) which default strategy serves this endpoint; or
// none, and fosite uses this provider's own default.
func (c *endpointConfig) GetClientAuthenticationStrategy(ctx context.Context) fosite.ClientAuthenticationStrategy {
	s := c.Configurator.GetClientAuthenticationStrategy(ctx)
	if s == nil {
		return nil
	}
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		return s(WithDefaultStrategy(ctx, c.provider.DefaultClientAuthenticationStrategy), r, form)
	}
}

type defaultStrategyKey struct{}

// WithDefaultStrategy returns ctx carrying the default client authentication strategy of the provider
// that serves the request.
func WithDefaultStrategy(ctx context.Context, s fosite.ClientAuthenticationStrategy) context.Context {
	return context.WithValue(ctx, defaultStrategyKey{}, s)
}

// DefaultStrategy returns the default client authentication strategy ctx carries, or nil: a strategy
// that wraps fosite's default should call this one when there is one.
func DefaultStrategy(ctx context.Context) fosite.ClientAuthenticationStrategy {
	s, _ := ctx.Value(defaultStrategyKey{}).(fosite.ClientAuthenticationStrategy)
	return s
}

// GetTokenURLs implements fosite.TokenURLProvider.
func (c *endpointConfig) GetTokenURLs(ctx context.Context) []string {
	base := c.Configurator.GetTokenURLs(ctx)
	urls := make([]string, 0, len(base)+2)
	urls = append(urls, base...)
	for _, u := range []string{c.Configurator.GetIDTokenIssuer(ctx), c.url} {
		if u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}
