package ciba

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Enrollment is an enrolment-fallback request as the verification page shows it: who asks, for what,
// with which binding message.
type Enrollment struct {
	// UserCode is the code, as displayed.
	UserCode string
	// Request describes the request; its Subject is empty.
	Request
	// Client is the client that asked.
	Client fosite.Client
	// Device is what the server saw of the client's request (RFC 8628 §5.4: it is shown so that a user
	// can tell a remote-phishing attempt).
	Device pending.DeviceInfo
	// Proximity compares where the request came from with where the person looking it up is (RFC
	// 10027 §6.1.3, establish proximity).
	Proximity pending.Proximity

	grant *pending.Grant
}

// MayApprove reports whether the signed-in subject may approve e: when the client's hint named an
// account (one without an authentication device), only that account may. The page should say so
// before asking anything, without naming the account.
func (e *Enrollment) MayApprove(subject string) bool {
	hinted := e.grant.Extra[extraHintedSubject]
	return subject != "" && (hinted == "" || hinted == subject)
}

// ErrOtherAccount refuses an enrolment approval by another account than the one the client's hint
// named (access_denied, 403): the client asked for that user's tokens, not the approver's.
var ErrOtherAccount = pending.NewError("access_denied", "This request is for another account. Sign in with the account the service asked for.", http.StatusForbidden)

// EnrollmentVerifier is the verification API of the enrolment fallback (this module's extension): the
// page at the verification URI looks a request up by the user code, authenticates the user strongly,
// links a device through the DeviceEnroller, and approves; the request then completes in the client's
// own delivery mode. Lookups that match nothing count as failed guesses by the caller (RFC 8628 §5.1,
// see pending.Limiter). Get one from New (Grant.Enrollment).
type EnrollmentVerifier struct {
	decider *Decider
}

// Lookup finds the pending enrolment request with that user code. who is the person typing it, for
// the guessing limits. Errors: pending.ErrInvalidUserCode, pending.ErrTooManyAttempts, server_error.
func (v *EnrollmentVerifier) Lookup(ctx context.Context, userCode string, who pending.Caller) (*Enrollment, error) {
	g, err := v.decider.lifecycle.LookupUserCode(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	format := v.decider.lifecycle.Format()
	return &Enrollment{
		UserCode:  format.Display(format.Normalize(userCode)),
		Request:   requestOf(g),
		Client:    g.Request.GetClient(),
		Device:    g.Device,
		Proximity: v.decider.lifecycle.Proximity(ctx, g, who.Address),
		grant:     g,
	}, nil
}

// Approve enrols a device for d.Subject (DeviceEnroller.Enroll) and approves the request with that user
// code for them, as Decider.Approve does (ErrOtherAccount when the hint named another account; the
// policy's proximity check, Options.Policy.RefuseAcrossNetworks, compares who.Address); the client then gets its tokens in its own delivery mode. Call
// it only after authenticating the user strongly. When Enroll fails nothing is approved; when the
// approval fails after Enroll succeeded, the device stays enrolled.
func (v *EnrollmentVerifier) Approve(ctx context.Context, userCode string, who pending.Caller, d pending.Decision) (*Enrollment, error) {
	e, err := v.Lookup(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	if !e.MayApprove(d.Subject) && d.Subject != "" {
		return nil, ErrOtherAccount.WithDebugf("The hint named another account than %q.", d.Subject)
	}
	if err := pending.ValidateApproval(e.grant, &d); err != nil {
		return nil, err
	}
	if d.From == "" {
		d.From = who.Address
	}
	enroller := v.decider.options.Enroller
	if enroller == nil {
		return nil, fosite.ErrServerError.WithDebug("No DeviceEnroller is configured for the enrolment fallback.")
	}
	if err := enroller.Enroll(ctx, d.Subject, e.Request); err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if err := v.decider.decide(ctx, e.grant, d); err != nil {
		if errors.Is(err, ErrRequestNotFound) {
			return nil, pending.ErrInvalidUserCode.WithHint("The request was already approved, denied or has expired.")
		}
		return nil, err
	}
	return e, nil
}

// Deny denies the request with that user code; subject (who denied) may be empty.
func (v *EnrollmentVerifier) Deny(ctx context.Context, userCode string, who pending.Caller, subject string) (*Enrollment, error) {
	e, err := v.Lookup(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	if err := v.decider.decide(ctx, e.grant, pending.Decision{Approved: false, Subject: subject}); err != nil {
		if errors.Is(err, ErrRequestNotFound) {
			return nil, pending.ErrInvalidUserCode.WithHint("The request was already approved, denied or has expired.")
		}
		return nil, err
	}
	return e, nil
}
