package rfc6749

import (
	"context"

	"github.com/ory/fosite"
)

// Provider returns a fosite provider for one of this module's endpoints, served at endpointURL, to
// authenticate clients and write errors there exactly as fosite's token endpoint does (every client
// authentication method, the same error shapes). A private_key_jwt client assertion sent to the
// endpoint may name, as its audience, the token endpoint (as fosite accepts), the issuer, or the
// endpoint itself (CIBA Core §7.1 names all three for its backchannel endpoint; RFC 7523 §3 asks only
// that the audience identify the authorization server).
func Provider(config fosite.Configurator, store fosite.Storage, endpointURL string) *fosite.Fosite {
	return fosite.NewOAuth2Provider(store, &endpointConfig{Configurator: config, url: endpointURL})
}

// endpointConfig is config with the endpoint's own URL and the issuer among the audiences of client
// assertions.
type endpointConfig struct {
	fosite.Configurator
	url string
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
