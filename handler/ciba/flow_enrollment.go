package ciba

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
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

	handleSignature string
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

// Lookup finds the pending enrolment request with that user code. remoteAddr identifies the person
// typing it for the attempt limit. Errors: ErrInvalidUserCode, pending.ErrTooManyAttempts, server_error.
func (v *EnrollmentVerifier) Lookup(ctx context.Context, userCode, remoteAddr string) (*Enrollment, error) {
	return nil, errors.New("ciba: not implemented yet")
}

// Approve enrols a device for d.Subject (DeviceEnroller.Enroll) and approves the request with that user
// code for them, as Decider.Approve does. Call it only after authenticating the user strongly.
func (v *EnrollmentVerifier) Approve(ctx context.Context, userCode, remoteAddr string, d pending.Decision) (*Enrollment, error) {
	return nil, errors.New("ciba: not implemented yet")
}

// Deny denies the request with that user code; subject (who denied) may be empty.
func (v *EnrollmentVerifier) Deny(ctx context.Context, userCode, remoteAddr, subject string) (*Enrollment, error) {
	return nil, errors.New("ciba: not implemented yet")
}
