package reciprocal

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/observe"
)

// Storage is what both parties of the grant need of a store: party B's token storage (to check the
// access token party A presents) and, unless Options.Receiver replaces it, the store of the tokens
// partners issued it (TokenStorage); party A's authorization codes and clients. The memory and SQL
// stores of this module implement it.
type Storage interface {
	fosite.ClientManager
	GrantStorage
	IssuerStorage
}

// Strategies are the token strategies the grant uses: party B checks access tokens it issued; party A
// mints authorization codes.
type Strategies struct {
	AccessToken   oauth2.AccessTokenStrategy
	AuthorizeCode oauth2.AuthorizeCodeStrategy
}

// Options configure Reciprocal OAuth. The zero value serves the grant and refuses every partner (none
// is configured). The zero value of each field means its default.
type Options struct {
	// Scopes maps client IDs to the reciprocal scope party B asks of them (draft §2.1), for clients
	// whose metadata has no "reciprocal_scope".
	Scopes map[string]string
	// InAuthorizationResponse also adds `reciprocal` to the authorization response (draft §2.1).
	InAuthorizationResponse bool
	// Partners says, for each client that is a reciprocal partner (party A), how party B redeems its
	// codes. nil means no client is.
	Partners Partners
	// Receiver takes the tokens party B obtains; nil means the store-backed Tokens (the store must then
	// implement TokenStorage).
	Receiver Receiver
	// CodeLifespan is how long party A's codes live. Default DefaultCodeLifespan.
	CodeLifespan time.Duration
	// OutboundTimeout bounds each outbound call (the push, the redemption). Default
	// DefaultOutboundTimeout.
	OutboundTimeout time.Duration
	// AllowLoopbackHTTP lets outbound calls use plain http to loopback addresses. Development only.
	AllowLoopbackHTTP bool
	// HTTPClient, when set, makes the outbound calls instead of NewHTTPClient.
	HTTPClient *http.Client

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives accepted, sent and failed grants (never codes or tokens); nil discards.
	Logger *slog.Logger
	// Observer, when not nil, is told how each token request that TokenEndpoint answers itself ended
	// (observe.EndpointToken, grant "reciprocal", or the label of a malformed request's grant type);
	// the requests it passes on are the application's token endpoint's to report. nil observes nothing.
	Observer observe.Requests
	// Audit, when not nil, receives the audit trail of reciprocal grants: at party A each grant party B
	// accepted (audit.EventApproved) and each revocation (audit.EventRevoked, reason "revoked" or
	// "replaced"); at party B each code redeemed and kept (audit.EventRedeemed). No code or token is
	// recorded. nil records nothing.
	Audit audit.Sink

	fosite.ScopeStrategyProvider
}

// GetReciprocalCodeLifespan implements CodeLifespanProvider.
func (o *Options) GetReciprocalCodeLifespan(context.Context) time.Duration { return o.CodeLifespan }

// GetReciprocalOutboundTimeout implements OutboundTimeoutProvider.
func (o *Options) GetReciprocalOutboundTimeout(context.Context) time.Duration {
	return o.OutboundTimeout
}

// GetReciprocalAllowLoopbackHTTP implements LoopbackHTTPProvider.
func (o *Options) GetReciprocalAllowLoopbackHTTP(context.Context) bool { return o.AllowLoopbackHTTP }

// GetReciprocalScopeInAuthorizationResponse implements AuthorizationResponseScopeProvider.
func (o *Options) GetReciprocalScopeInAuthorizationResponse(context.Context) bool {
	return o.InAuthorizationResponse
}

// Grant is Reciprocal OAuth for both parties, composed: party B's token endpoint handler for the
// reciprocal grant type (it embeds *GrantHandler, so register the Grant itself with fosite, as compose
// does), party B's token store, party A's Issuer, and party B's ScopeHandler for the `reciprocal`
// response parameter (register it after fosite's authorization code handlers). Make one with New.
type Grant struct {
	*GrantHandler
	// Tokens is party B's store of the tokens its partners issued it; nil when Options.Receiver
	// replaces it.
	Tokens *Tokens
	// Issuer is party A's side: it mints codes for a partner's client and pushes them to the partner.
	Issuer *Issuer
	// Scope adds `reciprocal` to party B's responses (draft §2.1).
	Scope *ScopeHandler
	// Links is party A's store of its users' links with partners; nil when the store does not
	// implement LinkStorage.
	Links *Links

	options Options
}

// New builds both parties of the grant from fosite's configuration (its global secret keys the token
// vault; older tokens open with the rotated secrets), the store, the strategies and opts.
func New(config fosite.Configurator, store Storage, strategies Strategies, opts Options) (*Grant, error) {
	ctx := context.Background()
	if opts.CodeLifespan <= 0 {
		opts.CodeLifespan = DefaultCodeLifespan
	}
	if opts.OutboundTimeout <= 0 {
		opts.OutboundTimeout = DefaultOutboundTimeout
	}
	if opts.Partners == nil {
		opts.Partners = PartnerMap{}
	}
	if strategies.AccessToken == nil || strategies.AuthorizeCode == nil {
		return nil, fmt.Errorf("reciprocal: an access token and an authorize code strategy are required")
	}
	opts.ScopeStrategyProvider = config
	secret, err := config.GetGlobalSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("reciprocal: %w", err)
	}
	rotated, err := config.GetRotatedGlobalSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("reciprocal: %w", err)
	}
	vault, err := NewVault(secret, rotated...)
	if err != nil {
		return nil, err
	}
	g := &Grant{options: opts}
	o := &g.options
	g.GrantHandler = &GrantHandler{
		AccessTokens: strategies.AccessToken, Storage: store, Partners: o.Partners, Receiver: o.Receiver,
		CodeHash: vault.CodeHash, HTTPClient: o.HTTPClient, Config: o, Now: o.Now, Logger: o.Logger, Audit: o.Audit,
	}
	if g.Receiver == nil {
		ts, ok := store.(TokenStorage)
		if !ok {
			return nil, fmt.Errorf("reciprocal: without Options.Receiver the store must implement reciprocal.TokenStorage, got %T", store)
		}
		g.Tokens = &Tokens{Storage: ts, Vault: vault, Now: o.Now}
		g.Receiver = g.Tokens
	}
	g.Issuer = &Issuer{
		Codes: strategies.AuthorizeCode, Storage: store, Clients: store, HTTPClient: o.HTTPClient,
		Config: o, Now: o.Now, Logger: o.Logger, Audit: o.Audit,
	}
	if ls, ok := store.(LinkStorage); ok {
		g.Links = &Links{Storage: ls, Vault: vault, Now: o.Now}
	}
	g.Scope = &ScopeHandler{Scopes: ClientScopes{Fallback: o.Scopes}, Config: o, Logger: o.Logger}
	return g, nil
}

// Options returns the options the grant runs with, defaults filled in.
func (g *Grant) Options() Options { return g.options }

// TokenEndpoint returns party B's token endpoint: reciprocal grant requests are answered 200 `{}` (see
// TokenEndpoint), every other request goes to next, the application's token endpoint. provider is
// the fosite provider the grant was composed into; newSession must return the session type the server
// issues tokens with.
func (g *Grant) TokenEndpoint(provider AccessRequester, next http.Handler, newSession func() fosite.Session) http.Handler {
	return &TokenEndpoint{Provider: provider, NewSession: newSession, Next: next, Observer: g.options.Observer}
}

// Metadata returns the grant's discovery metadata: its grant type.
func (g *Grant) Metadata() map[string]any {
	return map[string]any{"grant_types_supported": []string{string(GrantType)}}
}
