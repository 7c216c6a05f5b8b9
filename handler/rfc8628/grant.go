package rfc8628

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Storage is what the device grant needs of a store: its clients (to authenticate them), pending
// grants and fosite's token stores (pending.TokenStorage), and attempt counters for the guessing
// limits. The memory and SQL stores of this module implement it.
type Storage interface {
	fosite.Storage
	pending.TokenStorage
	pending.AttemptStorage
}

// KioskStorage is what the staffed kiosk, the alerts, the repeat-approval warning and the expiry audit
// need besides Storage: finding device grants by the account a device named, by the approvals one user
// gave one client lately, and by expiry, plus the lookups of pending.IndexStorage. It is separate so
// that stores without these indexes still serve the plain grant.
type KioskStorage interface {
	pending.IndexStorage
	// ListPendingGrantsByLoginHint returns the grants of that kind in state PENDING, not expired at now,
	// whose LoginHint equals loginHint exactly, oldest first. No match is an empty list, not an error.
	// The returned Requests carry no session.
	ListPendingGrantsByLoginHint(ctx context.Context, kind pending.Kind, loginHint string, now time.Time) ([]*pending.Grant, error)

	// ListApprovedGrants returns the grants of that kind that subject approved for clientID with
	// DecidedAt at or after since, in state APPROVED or CONSUMED, newest first, at most limit of them
	// (the repeat-approval warning suggested in Google's note "Authorizing rich-client devices without
	// a web browser"). The returned Requests carry no session.
	ListApprovedGrants(ctx context.Context, kind pending.Kind, subject, clientID string, since time.Time, limit int) ([]*pending.Grant, error)

	// ListExpiredGrants returns up to limit grants of that kind in state PENDING or APPROVED whose expiry
	// is after after and at or before now (they were never redeemed), oldest expiry first. Purge jobs use
	// it to audit expiries before deleting the rows, paging with after.
	ListExpiredGrants(ctx context.Context, kind pending.Kind, after, now time.Time, limit int) ([]*pending.Grant, error)
}

// Grant is the device authorization grant, composed: fosite's token endpoint handler for the
// device_code grant type (it embeds *TokenHandler, so register the Grant itself with fosite, as
// compose does), plus the parts fosite has no place for. Make one with New.
type Grant struct {
	*TokenHandler
	// Authorization is the device authorization endpoint (RFC 8628 §3.1); mount it at
	// Options.AuthorizationURL.
	Authorization *DeviceAuthorizationEndpoint
	// Verifier is the user-code verification API (RFC 8628 §3.3) behind the page at
	// Options.VerificationURI.
	Verifier *Verifier
	// Kiosk is the staffed-kiosk API; nil unless Options.Kiosk was set.
	Kiosk *Kiosk
	// Alerter sends the post-approval alerts and takes their deactivation links; nil unless
	// Options.Alerts was set.
	Alerter *Alerter

	options Options
}

// New builds the device grant from fosite's configuration (its global secret, token lifespans, scope
// and audience strategies and client authentication apply), the store, the token strategies and opts.
// It returns an error when opts or the store cannot work together.
func New(config fosite.Configurator, store Storage, tokens pending.TokenStrategies, opts Options) (*Grant, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var kiosk KioskStorage
	if opts.Kiosk != nil || opts.Alerts != nil {
		var ok bool
		if kiosk, ok = store.(KioskStorage); !ok {
			return nil, errorf("the kiosk and the alerts need a store implementing rfc8628.KioskStorage, got %T", store)
		}
	} else {
		kiosk, _ = store.(KioskStorage)
	}
	issuer, err := pending.NewTokenIssuer(config, store, tokens, opts.Now)
	if err != nil {
		return nil, errorf("%v", err)
	}
	g := &Grant{options: opts}
	g.TokenHandler = &TokenHandler{
		lifecycle: &pending.Lifecycle{
			Kind: pending.KindDeviceCode, Storage: store, Codes: pending.NewCodesWithRand(config, opts.Rand), Issuer: issuer,
			UserCodeFormat: opts.UserCodeFormat, HandleParam: "device_code",
			Limiter: &pending.Limiter{Storage: store, Scope: "device-user-code", Limits: opts.UserCodeLimits},
			Now:     opts.Now, Logger: opts.Logger, Policy: opts.Policy, Audit: opts.Audit,
		},
		kiosk:  kiosk,
		audit:  opts.Audit,
		logger: opts.Logger,
	}
	g.TokenHandler.lifecycle.Replayed = g.TokenHandler.replayed
	issuer.Ceiling = g.TokenHandler.lifecycle.Policy.CeilingFor
	g.Authorization = &DeviceAuthorizationEndpoint{
		provider: rfc6749.Provider(config, store, opts.AuthorizationURL),
		config:   config, lifecycle: g.lifecycle, deactivation: kiosk, options: &g.options,
	}
	g.Verifier = &Verifier{lifecycle: g.lifecycle, kiosk: kiosk, options: &g.options}
	if a := opts.Alerts; a != nil {
		g.Alerter = &Alerter{
			Sender: a.Sender, Outbox: a.Outbox, Kick: a.Kick, Recipients: a.Recipients, Storage: store.(AlertStorage),
			Config: config, DeactivateURL: a.DeactivateURL, LinkLifetime: a.LinkLifetime, Render: a.Render,
			Audit: opts.Audit, Now: opts.Now, lifecycle: g.lifecycle,
		}
		g.Verifier.alerter = g.Alerter
	}
	if k := opts.Kiosk; k != nil {
		g.Kiosk = &Kiosk{Verifier: g.Verifier, Staff: k.Staff, Accounts: k.Accounts, NewSession: k.NewSession}
	}
	return g, nil
}

// Flag ends the device grant requestID, found abused (pending.Lifecycle.Flag): a pending request is
// denied, an approved or redeemed one ended and every token it issued revoked, Options.Policy.Events
// told, the flag audited. reason is one of pending's Reason constants; by names who flagged it.
// Errors: fosite.ErrNotFound, server_error.
func (g *Grant) Flag(ctx context.Context, requestID, reason, by string) error {
	return g.lifecycle.FlagRequest(ctx, requestID, reason, by)
}

// Options returns the options the grant runs with, defaults filled in.
func (g *Grant) Options() Options { return g.options }

// Metadata returns the grant's authorization server metadata (RFC 8414, RFC 8628 §4):
// device_authorization_endpoint and the grant type.
func (g *Grant) Metadata() map[string]any {
	m := map[string]any{"grant_types_supported": []string{string(GrantType)}}
	if g.options.AuthorizationURL != "" {
		m["device_authorization_endpoint"] = g.options.AuthorizationURL
	}
	return m
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("rfc8628: "+format, args...)
}

var errNoKioskStorage = errors.New("rfc8628: the store does not implement rfc8628.KioskStorage")
