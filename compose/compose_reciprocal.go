package compose

import (
	"context"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// Reciprocal holds the parts of Reciprocal OAuth (draft-ietf-oauth-reciprocal-04) that fosite has no
// place for. See package reciprocal for the guide.
type Reciprocal struct {
	// Grant is party B's token endpoint handler for the reciprocal grant (already registered).
	Grant *reciprocal.GrantHandler
	// Tokens is party B's store of the tokens its partners issued it; nil when ReciprocalConfig.Receiver
	// replaces it.
	Tokens *reciprocal.Tokens
	// Issuer is party A's side: it mints codes for a partner's client and pushes them to the partner.
	Issuer *reciprocal.Issuer

	provider *Provider
}

// TokenEndpoint returns party B's token endpoint: reciprocal grant requests are answered 200 `{}` (see
// reciprocal.TokenEndpoint), every other request goes to next, the application's token endpoint.
// newSession must return the session type the server issues tokens with.
func (r *Reciprocal) TokenEndpoint(next http.Handler, newSession func() fosite.Session) http.Handler {
	return &reciprocal.TokenEndpoint{Provider: r.provider, NewSession: newSession, Next: next}
}

// ReciprocalConfig configures Reciprocal OAuth. The zero value serves the grant and refuses every
// partner (none is configured).
type ReciprocalConfig struct {
	// Scopes maps client IDs to the reciprocal scope party B asks of them (draft §2.1), for clients
	// whose metadata has no "reciprocal_scope".
	Scopes map[string]string
	// InAuthorizationResponse also adds `reciprocal` to the authorization response (draft §2.1).
	InAuthorizationResponse bool
	// Partners says, for each client that is a reciprocal partner (party A), how party B redeems its
	// codes. nil means no client is.
	Partners reciprocal.Partners
	// Receiver takes the tokens party B obtains; nil means the store-backed reciprocal.Tokens (the
	// storage must then implement reciprocal.TokenStorage).
	Receiver reciprocal.Receiver
	// CodeLifespan is how long party A's codes live. Default 2 minutes.
	CodeLifespan time.Duration
	// OutboundTimeout bounds each outbound call (the push, the redemption). Default 10 seconds.
	OutboundTimeout time.Duration
	// AllowLoopbackHTTP lets outbound calls use plain http to loopback addresses. Development only.
	AllowLoopbackHTTP bool
	// HTTPClient, when set, makes the outbound calls instead of reciprocal.NewHTTPClient.
	HTTPClient *http.Client
}

var _ interface {
	reciprocal.CodeLifespanProvider
	reciprocal.OutboundTimeoutProvider
	reciprocal.LoopbackHTTPProvider
	reciprocal.AuthorizationResponseScopeProvider
} = (*Config)(nil)

// GetReciprocalCodeLifespan implements reciprocal.CodeLifespanProvider.
func (c *Config) GetReciprocalCodeLifespan(context.Context) time.Duration {
	if c.Reciprocal.CodeLifespan <= 0 {
		return reciprocal.DefaultCodeLifespan
	}
	return c.Reciprocal.CodeLifespan
}

// GetReciprocalOutboundTimeout implements reciprocal.OutboundTimeoutProvider.
func (c *Config) GetReciprocalOutboundTimeout(context.Context) time.Duration {
	if c.Reciprocal.OutboundTimeout <= 0 {
		return reciprocal.DefaultOutboundTimeout
	}
	return c.Reciprocal.OutboundTimeout
}

// GetReciprocalAllowLoopbackHTTP implements reciprocal.LoopbackHTTPProvider.
func (c *Config) GetReciprocalAllowLoopbackHTTP(context.Context) bool {
	return c.Reciprocal.AllowLoopbackHTTP
}

// GetReciprocalScopeInAuthorizationResponse implements reciprocal.AuthorizationResponseScopeProvider.
func (c *Config) GetReciprocalScopeInAuthorizationResponse(context.Context) bool {
	return c.Reciprocal.InAuthorizationResponse
}

func init() {
	wirers = append(wirers, func(p *Provider, config *Config, storage interface{}, h interface{}) {
		if g, ok := h.(*reciprocalGrant); ok {
			p.Reciprocal = &Reciprocal{Grant: g.GrantHandler, Tokens: g.tokens, Issuer: g.issuer, provider: p}
		}
	})
}

// reciprocalGrant is what ReciprocalFactory returns: the token handler, plus the parts Compose wires.
type reciprocalGrant struct {
	*reciprocal.GrantHandler
	tokens *reciprocal.Tokens
	issuer *reciprocal.Issuer
}

// ReciprocalFactory registers Reciprocal OAuth for both parties: party B's token endpoint handler for
// urn:ietf:params:oauth:grant-type:reciprocal (draft §2.2.2), and, with this package's Compose,
// Provider.Reciprocal: the token endpoint wrapper that answers the grant, party B's token store, and
// party A's Issuer. Add ReciprocalScopeFactory too for `reciprocal` in responses (draft §2.1).
//
// storage must implement oauth2.AccessTokenStorage, reciprocal.IssuerStorage, and (unless
// ReciprocalConfig.Receiver is set) reciprocal.TokenStorage; the memory and SQL stores do. strategy
// must implement oauth2.AccessTokenStrategy and oauth2.AuthorizeCodeStrategy. The token vault's key is
// derived from the global secret (and the rotated ones, to open older tokens).
func ReciprocalFactory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	const name = "ReciprocalFactory"
	cfg := ourConfig(config)
	ctx := context.Background()
	g := &reciprocalGrant{GrantHandler: &reciprocal.GrantHandler{
		AccessTokens: mustImplement[oauth2.AccessTokenStrategy](strategy, "oauth2.AccessTokenStrategy", name),
		Storage:      mustImplement[reciprocal.GrantStorage](storage, "oauth2.AccessTokenStorage", name),
		Partners:     cfg.Reciprocal.Partners,
		Receiver:     cfg.Reciprocal.Receiver,
		HTTPClient:   cfg.Reciprocal.HTTPClient,
		Config:       cfg,
		Now:          cfg.Now,
		Logger:       cfg.Logger,
	}}
	if g.Partners == nil {
		g.Partners = reciprocal.PartnerMap{}
	}
	secret, err := cfg.GetGlobalSecret(ctx)
	if err != nil {
		panic("compose: " + name + ": " + err.Error())
	}
	rotated, err := cfg.GetRotatedGlobalSecrets(ctx)
	if err != nil {
		panic("compose: " + name + ": " + err.Error())
	}
	vault, err := reciprocal.NewVault(secret, rotated...)
	if err != nil {
		panic("compose: " + name + ": " + err.Error())
	}
	g.CodeHash = vault.CodeHash
	if g.Receiver == nil {
		g.tokens = &reciprocal.Tokens{
			Storage: mustImplement[reciprocal.TokenStorage](storage, "reciprocal.TokenStorage", name),
			Vault:   vault,
			Now:     cfg.Now,
		}
		g.Receiver = g.tokens
	}
	g.issuer = &reciprocal.Issuer{
		Codes:      mustImplement[oauth2.AuthorizeCodeStrategy](strategy, "oauth2.AuthorizeCodeStrategy", name),
		Storage:    mustImplement[reciprocal.IssuerStorage](storage, "reciprocal.IssuerStorage", name),
		Clients:    mustImplement[fosite.ClientManager](storage, "fosite.ClientManager", name),
		HTTPClient: cfg.Reciprocal.HTTPClient,
		Config:     cfg,
		Now:        cfg.Now,
		Logger:     cfg.Logger,
	}
	return g
}

// ReciprocalScopeFactory registers party B's `reciprocal` response parameter (draft §2.1): in the
// authorization code grant's token response, and in the authorization response when
// ReciprocalConfig.InAuthorizationResponse is set. The scope of each client is its metadata's
// "reciprocal_scope", else ReciprocalConfig.Scopes. Compose it after fosite's authorization code
// factories.
func ReciprocalScopeFactory(config fosite.Configurator, _, _ interface{}) interface{} {
	cfg := ourConfig(config)
	return &reciprocal.ScopeHandler{
		Scopes: reciprocal.ClientScopes{Fallback: cfg.Reciprocal.Scopes},
		Config: cfg,
		Logger: cfg.Logger,
	}
}
