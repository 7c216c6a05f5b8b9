package ciba

import (
	"context"
	"errors"
	"time"

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
}

// EnrollmentVerifier is the verification API of the enrolment fallback (this module's extension): the
// page at the verification URI looks a request up by the user code, authenticates the user strongly,
// links a device through the DeviceEnroller, and approves; the request then completes in the client's
// own delivery mode. Lookups that match nothing count against the caller's address and everyone
// (RFC 8628 §5.1).
type EnrollmentVerifier struct {
	Decider  *Decider
	Enroller DeviceEnroller
	Limiter  *pending.Limiter
	Config   EnrollmentProvider
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (v *EnrollmentVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

// Lookup finds the pending enrolment request with that user code. remoteAddr identifies the person
// typing it for the attempt limit. Errors: ErrInvalidUserCode, pending.ErrTooManyAttempts, server_error.
func (v *EnrollmentVerifier) Lookup(ctx context.Context, userCode, remoteAddr string) (*Enrollment, error) {
	e, _, _, err := v.find(ctx, userCode, remoteAddr)
	return e, err
}

// Approve enrols a device for d.Subject (DeviceEnroller.Enroll) and approves the request with that user
// code for them, as Decider.Approve does; the client then gets its tokens in its own delivery mode. Call
// it only after authenticating the user strongly. When Enroll fails nothing is approved; when the
// approval fails after Enroll succeeded, the device stays enrolled.
func (v *EnrollmentVerifier) Approve(ctx context.Context, userCode, remoteAddr string, d pending.Decision) (*Enrollment, error) {
	e, rec, g, err := v.find(ctx, userCode, remoteAddr)
	if err != nil {
		return nil, err
	}
	if err := completeApproval(g, &d); err != nil {
		return nil, err
	}
	if v.Enroller == nil {
		return nil, fosite.ErrServerError.WithDebug("No DeviceEnroller is configured for the enrolment fallback.")
	}
	if err := v.Enroller.Enroll(ctx, d.Subject, e.Request); err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if err := v.Decider.decide(ctx, rec, g, d); err != nil {
		if errors.Is(err, ErrRequestNotFound) {
			return nil, ErrInvalidUserCode.WithHint("The request was already approved, denied or has expired.")
		}
		return nil, err
	}
	return e, nil
}

// Deny denies the request with that user code; subject (who denied) may be empty.
func (v *EnrollmentVerifier) Deny(ctx context.Context, userCode, remoteAddr, subject string) (*Enrollment, error) {
	e, rec, g, err := v.find(ctx, userCode, remoteAddr)
	if err != nil {
		return nil, err
	}
	if err := v.Decider.decide(ctx, rec, g, pending.Decision{Approved: false, Subject: subject}); err != nil {
		if errors.Is(err, ErrRequestNotFound) {
			return nil, ErrInvalidUserCode.WithHint("The request was already approved, denied or has expired.")
		}
		return nil, err
	}
	return e, nil
}

func (v *EnrollmentVerifier) find(ctx context.Context, userCode, remoteAddr string) (*Enrollment, *Record, *pending.Grant, error) {
	now := v.now()
	if err := v.Limiter.Allow(ctx, remoteAddr, now); err != nil {
		return nil, nil, nil, err
	}
	format := v.Config.GetCIBAUserCodeFormat(ctx)
	normalized := format.Normalize(userCode)
	fail := func() (*Enrollment, *Record, *pending.Grant, error) {
		if err := v.Limiter.Fail(ctx, remoteAddr, now); err != nil {
			return nil, nil, nil, err
		}
		return nil, nil, nil, ErrInvalidUserCode.WithHint("The user code is not valid: it may be mistyped, expired or already used.")
	}
	if len(normalized) != format.Length {
		return fail()
	}
	sig, err := v.Decider.Codes.UserCodeSignature(ctx, pending.KindCIBA, normalized)
	if err != nil {
		return nil, nil, nil, rfc6749.ServerError(err)
	}
	st := v.Decider.Storage
	g, err := st.GetPendingGrantByUserCode(ctx, pending.KindCIBA, sig, now, nil)
	if errors.Is(err, pending.ErrNotFound) || (err == nil && (g.State != pending.StatePending || g.Extra[extraFallback] != "true")) {
		return fail()
	} else if err != nil {
		return nil, nil, nil, rfc6749.ServerError(err)
	}
	rec, err := st.GetCIBARecord(ctx, g.Extra[extraRef])
	if errors.Is(err, pending.ErrNotFound) {
		return fail()
	} else if err != nil {
		return nil, nil, nil, rfc6749.ServerError(err)
	}
	return &Enrollment{
		UserCode: format.Display(normalized),
		Request:  requestOf(g, rec),
		Client:   g.Request.GetClient(),
		Device:   g.Device,
	}, rec, g, nil
}
