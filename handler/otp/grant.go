package otp

import (
	"context"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Grant is the OTP grant, composed: fosite's token endpoint handler for the grant type (it embeds
// *TokenHandler, so register the Grant itself with fosite, as compose does), plus the challenge
// endpoint fosite has no place for. Make one with New.
type Grant struct {
	*TokenHandler
	// Challenge is the challenge endpoint (identify, send); mount it at Options.ChallengeURL.
	Challenge *ChallengeEndpoint

	options Options
}

// New builds the OTP grant from fosite's configuration (its global secret, token lifespans, scope and
// audience strategies and client authentication apply), the store, the token strategies and opts.
func New(config fosite.Configurator, store Storage, tokens pending.TokenStrategies, opts Options) (*Grant, error) {
	opts, err := opts.withDefaults(config.GetIDTokenIssuer(context.Background()))
	if err != nil {
		return nil, err
	}
	issuer, err := pending.NewTokenIssuer(config, store, tokens, opts.Now)
	if err != nil {
		return nil, errorf("%v", err)
	}
	lc := &pending.Lifecycle{
		Kind: pending.KindOTP, Storage: store, Codes: pending.NewCodesWithRand(config, opts.Rand), Issuer: issuer,
		HandleParam: "oob_code", Now: opts.Now, Logger: opts.Logger, Policy: opts.Policy, Audit: opts.Audit,
	}
	issuer.Ceiling = lc.Policy.CeilingFor
	g := &Grant{options: opts}
	g.TokenHandler = &TokenHandler{lifecycle: lc, store: store, options: &g.options}
	lc.Replayed = g.TokenHandler.replayed
	g.Challenge = &ChallengeEndpoint{
		provider: rfc6749.Provider(config, store, opts.ChallengeURL), config: config,
		lifecycle: lc, store: store, options: &g.options,
	}
	return g, nil
}

// Flag ends the challenge requestID, found abused (pending.Lifecycle.Flag): a pending challenge is
// closed, a redeemed one's tokens revoked, Options.Policy.Events told. Errors: fosite.ErrNotFound,
// server_error.
func (g *Grant) Flag(ctx context.Context, requestID, reason, by string) error {
	return g.lifecycle.FlagRequest(ctx, requestID, reason, by)
}

// Options returns the options the grant runs with, defaults filled in.
func (g *Grant) Options() Options { return g.options }

// Metadata returns the grant's discovery metadata: otp_challenge_endpoint and the grant type.
func (g *Grant) Metadata() map[string]any {
	m := map[string]any{"grant_types_supported": []string{string(g.options.GrantType)}}
	if g.options.ChallengeURL != "" {
		m[ChallengeEndpointMetadata] = g.options.ChallengeURL
	}
	return m
}
