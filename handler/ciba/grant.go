package ciba

import (
	"context"
	"fmt"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Storage is everything the CIBA grant needs of a store: its clients (to authenticate them, and the
// single-use jti of signed requests), pending grants and fosite's token stores, attempt counters, the
// lookups by request and by user (pending.IndexStorage), and the callbacks ping and push requests owe
// (pending.CallbackStorage). A request is one pending grant: its reference is the grant's request ID,
// its user the grant's Subject, its callback the grant's Callback. The memory and SQL stores of this
// module implement it.
type Storage interface {
	fosite.Storage
	pending.TokenStorage
	pending.AttemptStorage
	pending.IndexStorage
	pending.CallbackStorage
}

// Grant is OpenID CIBA Core 1.0, composed: fosite's token endpoint handler for the CIBA grant type (it
// embeds *TokenHandler, so register the Grant itself with fosite, as compose does), plus the parts
// fosite has no place for. Make one with New.
type Grant struct {
	*TokenHandler
	// Backchannel is the backchannel authentication endpoint (CIBA Core §7); mount it at
	// Options.BackchannelURL.
	Backchannel *BackchannelEndpoint
	// Decider is the decision API of the authentication-device side (CIBA Core §8).
	Decider *Decider
	// Enrollment is the verification API of the enrolment fallback; mount a page using it at
	// Options.VerificationURI.
	Enrollment *EnrollmentVerifier

	options Options
}

// New builds the CIBA grant from fosite's configuration (its global secret, token lifespans, scope and
// audience strategies, JWKS fetcher and client authentication apply), the store, the token strategies
// (CIBA always issues ID tokens, so tokens.IDToken is required) and opts.
func New(config fosite.Configurator, store Storage, tokens pending.TokenStrategies, opts Options) (*Grant, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if tokens.IDToken == nil {
		return nil, errorf("CIBA always issues ID tokens: the token strategies need an ID token strategy")
	}
	issuer, err := pending.NewTokenIssuer(config, store, tokens, opts.Now)
	if err != nil {
		return nil, errorf("%v", err)
	}
	lc := &pending.Lifecycle{
		Kind: pending.KindCIBA, Storage: store, Codes: pending.NewCodesWithRand(config, opts.Rand), Issuer: issuer,
		UserCodeFormat: opts.UserCodeFormat, HandleParam: "auth_req_id",
		Limiter: &pending.Limiter{Storage: store, Scope: "ciba-user-code", Limits: opts.UserCodeLimits},
		Now:     opts.Now, Logger: opts.Logger, Policy: opts.Policy, Audit: opts.Audit, Kick: opts.Kick,
		AuditTrail: true, // requests, decisions, redemptions and replays in Options.Audit
	}
	issuer.Ceiling = lc.Policy.CeilingFor
	g := &Grant{options: opts}
	sealer := &Sealer{Config: config}
	g.TokenHandler = &TokenHandler{lifecycle: lc}
	g.Decider = &Decider{lifecycle: lc, store: store, sealer: sealer, options: &g.options}
	g.Backchannel = &BackchannelEndpoint{
		provider: rfc6749.Provider(config, store, opts.BackchannelURL), config: config,
		lifecycle: lc, sealer: sealer, options: &g.options,
	}
	g.Enrollment = &EnrollmentVerifier{decider: g.Decider}
	lc.DenyEffects = g.Decider.notifyDecision
	return g, nil
}

// Flag ends the request requestID, found abused (pending.Lifecycle.Flag): a pending request is denied
// (the client is told as on any denial), an approved or redeemed one ended and its tokens revoked,
// Options.Policy.Events told. reason is one of pending's Reason constants; by names who flagged it.
// Errors: fosite.ErrNotFound, server_error.
func (g *Grant) Flag(ctx context.Context, requestID, reason, by string) error {
	return g.lifecycle.FlagRequest(ctx, requestID, reason, by)
}

// Options returns the options the grant runs with, defaults filled in.
func (g *Grant) Options() Options { return g.options }

// Metadata returns the grant's discovery metadata (CIBA Core §4): the backchannel endpoint, the token
// delivery modes (ping and push only with an outbox), the request signing algorithms, whether
// user_code is supported, and the grant type.
func (g *Grant) Metadata() map[string]any {
	o := &g.options
	m := map[string]any{"grant_types_supported": []string{string(GrantType)}}
	if o.BackchannelURL != "" {
		m["backchannel_authentication_endpoint"] = o.BackchannelURL
	}
	modes := []string{string(ModePoll)}
	if o.Outbox != nil {
		modes = append(modes, string(ModePing), string(ModePush))
	}
	m["backchannel_token_delivery_modes_supported"] = modes
	if len(o.RequestSigningAlgs) > 0 {
		m["backchannel_authentication_request_signing_alg_values_supported"] = o.RequestSigningAlgs
	}
	m["backchannel_user_code_parameter_supported"] = o.UserCodes != nil
	return m
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("ciba: "+format, args...)
}
