package rfc8628

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/pending"
)

// ErrInvalidUserCode answers a user code that matches no live request. Wrong, expired and already used
// codes all get it, so the answer tells a guesser nothing.
var ErrInvalidUserCode = &fosite.RFC6749Error{
	ErrorField:       "invalid_user_code",
	DescriptionField: "The user code is not valid: it may be mistyped, expired or already used.",
	CodeField:        http.StatusBadRequest,
}

// Authorization is a pending device request as the user sees it on the verification page (RFC 8628 §3.3):
// who asks, for what, from where.
type Authorization struct {
	// UserCode is the code, as displayed on the device.
	UserCode          string
	Client            fosite.Client
	RequestedScopes   fosite.Arguments
	RequestedAudience fosite.Arguments
	// LoginHint is the account identifier the device sent, if any.
	LoginHint string
	Device    pending.DeviceInfo
	CreatedAt time.Time
	ExpiresAt time.Time
	// RequestID identifies the request in logs and audit events. It is not a secret.
	RequestID string

	handleSignature string
}

// Verifier is the user-code verification API (RFC 8628 §3.3): the verification page (or a staff tool, or
// a script) looks a request up by the code the user typed, shows it, and approves or denies it.
//
// Every lookup that matches nothing counts as a failure for the caller's address and for everyone; once
// either limit is reached, lookups are refused whatever the code (§5.1), so the 20^8 code space cannot
// be searched.
type Verifier struct {
	Storage pending.Storage
	Codes   *pending.Codes
	Config  interface {
		UserCodeFormatProvider
	}
	Limiter *pending.Limiter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

// Lookup finds the pending request with that user code. remoteAddr identifies the person typing it
// (their client address) for the attempt limit. Errors: ErrInvalidUserCode, pending.ErrTooManyAttempts,
// server_error.
func (v *Verifier) Lookup(ctx context.Context, userCode, remoteAddr string) (*Authorization, error) {
	g, err := v.find(ctx, userCode, remoteAddr)
	if err != nil {
		return nil, err
	}
	format := v.Config.GetUserCodeFormat(ctx)
	return &Authorization{
		UserCode:          format.Display(format.Normalize(userCode)),
		Client:            g.Request.GetClient(),
		RequestedScopes:   g.Request.GetRequestedScopes(),
		RequestedAudience: g.Request.GetRequestedAudience(),
		LoginHint:         g.LoginHint,
		Device:            g.Device,
		CreatedAt:         g.CreatedAt,
		ExpiresAt:         g.ExpiresAt,
		RequestID:         g.Request.GetID(),
		handleSignature:   g.HandleSignature,
	}, nil
}

// Approve approves the request with that user code for the user in d (d.Approved is ignored). Unless
// d.GrantedScopes is set, everything the client requested is granted; a scope it did not request can
// not be granted. When openid is granted the session must be an openid.Session whose ID token claims
// carry the subject.
func (v *Verifier) Approve(ctx context.Context, userCode, remoteAddr string, d pending.Decision) (*Authorization, error) {
	a, err := v.Lookup(ctx, userCode, remoteAddr)
	if err != nil {
		return nil, err
	}
	d.Approved = true
	if d.Subject == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The subject of an approval is missing.")
	}
	if d.Session == nil {
		return nil, fosite.ErrServerError.WithDebug("Approve needs a session to issue tokens with.")
	}
	if d.GrantedScopes == nil {
		d.GrantedScopes = a.RequestedScopes
	}
	for _, s := range d.GrantedScopes {
		if !a.RequestedScopes.Has(s) {
			return nil, fosite.ErrInvalidScope.WithHintf("The scope '%s' was not requested.", s)
		}
	}
	if d.GrantedAudience == nil {
		d.GrantedAudience = a.RequestedAudience
	}
	for _, aud := range d.GrantedAudience {
		if !a.RequestedAudience.Has(aud) {
			return nil, fosite.ErrInvalidRequest.WithHintf("The audience '%s' was not requested.", aud)
		}
	}
	if fosite.Arguments(d.GrantedScopes).Has("openid") {
		s, ok := d.Session.(openid.Session)
		if !ok || s.IDTokenClaims() == nil || s.IDTokenClaims().Subject != d.Subject {
			return nil, fosite.ErrServerError.WithDebug("The openid scope is granted, so the session must be an openid.Session whose ID token subject is the approval's subject.")
		}
	}
	return a, v.decide(ctx, a, d)
}

// Deny denies the request with that user code. subject (who denied) and actor may be empty.
func (v *Verifier) Deny(ctx context.Context, userCode, remoteAddr, subject, actor string) (*Authorization, error) {
	a, err := v.Lookup(ctx, userCode, remoteAddr)
	if err != nil {
		return nil, err
	}
	return a, v.decide(ctx, a, pending.Decision{Approved: false, Subject: subject, Actor: actor})
}

func (v *Verifier) decide(ctx context.Context, a *Authorization, d pending.Decision) error {
	err := v.Storage.DecidePendingGrant(ctx, pending.KindDeviceCode, a.handleSignature, d, v.now())
	if errors.Is(err, pending.ErrStateChanged) || errors.Is(err, pending.ErrNotFound) {
		return ErrInvalidUserCode.WithHint("The request was already approved, denied or has expired.")
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return nil
}

func (v *Verifier) find(ctx context.Context, userCode, remoteAddr string) (*pending.Grant, error) {
	now := v.now()
	if err := v.Limiter.Allow(ctx, remoteAddr, now); err != nil {
		return nil, err
	}
	format := v.Config.GetUserCodeFormat(ctx)
	normalized := format.Normalize(userCode)
	if len(normalized) != format.Length {
		// A code of the wrong length can be told apart without a lookup, but it still counts as a guess.
		if err := v.Limiter.Fail(ctx, remoteAddr, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidUserCode
	}
	sig, err := v.Codes.UserCodeSignature(ctx, pending.KindDeviceCode, normalized)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	g, err := v.Storage.GetPendingGrantByUserCode(ctx, pending.KindDeviceCode, sig, now, nil)
	if errors.Is(err, pending.ErrNotFound) || (err == nil && g.State != pending.StatePending) {
		if err := v.Limiter.Fail(ctx, remoteAddr, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidUserCode
	} else if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return g, nil
}
