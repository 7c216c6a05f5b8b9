package pending

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ory/fosite"
)

// Error is an error this module answers with that fosite v0.49.0 does not define: an RFC 6749 §5.2 error
// code, its description and its HTTP status — and an identity of its own.
//
// fosite's RFC6749Error.Is compares only the code and the status, so two fosite errors with the same
// code are the same error to errors.Is: "the code was resent too soon" would be "slow down", and "this
// send quota is used up" would be "too many wrong user codes". An *Error is equal only to itself, and
// to the fosite errors with its code and status (errors.Is(pending.ErrSlowDown, fosite.ErrInvalidGrant)
// is false; errors.Is(err, fosite.ErrInvalidRequest) keeps working for this module's invalid_request
// errors). The copies its With* methods return are *fosite.RFC6749Error values, as fosite's are, that
// wrap the *Error, so errors.Is finds it in them too. fosite writes an *Error (errors.As, and so
// fosite.ErrorToRFC6749Error, see it as its RFC6749Error) exactly as it writes its own errors.
//
// Define each with NewError, once; never modify one.
type Error struct {
	code        string
	description string
	status      int
}

// NewError returns a new, distinct error with an RFC 6749 error code, its description and HTTP status.
func NewError(code, description string, status int) *Error {
	return &Error{code: code, description: description, status: status}
}

// Error returns the error code.
func (e *Error) Error() string { return e.code }

// RFC6749 returns e as fosite writes it: a new RFC6749Error with e's code, description and status, whose
// cause is e.
func (e *Error) RFC6749() *fosite.RFC6749Error {
	return (&fosite.RFC6749Error{ErrorField: e.code, DescriptionField: e.description, CodeField: e.status}).WithWrap(e)
}

// As lets errors.As, and so fosite's writers, see e as its RFC6749Error.
func (e *Error) As(target any) bool {
	if t, ok := target.(**fosite.RFC6749Error); ok {
		*t = e.RFC6749()
		return true
	}
	return false
}

// Is reports whether target is a fosite error with e's code and status (errors.Is has already compared
// e with target itself).
func (e *Error) Is(target error) bool {
	var t *fosite.RFC6749Error
	// A direct type check, not errors.As: target is the sentinel, not a chain.
	if rfc, ok := target.(*fosite.RFC6749Error); ok {
		t = rfc
	}
	return t != nil && t.ErrorField == e.code && t.CodeField == e.status
}

// StatusCode returns the HTTP status of the error.
func (e *Error) StatusCode() int { return e.status }

// WithHint returns a copy with a hint for the client (client-safe text only).
func (e *Error) WithHint(hint string) *fosite.RFC6749Error { return e.RFC6749().WithHint(hint) }

// WithHintf returns a copy with a formatted hint for the client.
func (e *Error) WithHintf(format string, args ...any) *fosite.RFC6749Error {
	return e.RFC6749().WithHint(fmt.Sprintf(format, args...))
}

// WithDebug returns a copy with a server-side debug text.
func (e *Error) WithDebug(debug string) *fosite.RFC6749Error { return e.RFC6749().WithDebug(debug) }

// WithDebugf returns a copy with a formatted server-side debug text.
func (e *Error) WithDebugf(format string, args ...any) *fosite.RFC6749Error {
	return e.RFC6749().WithDebug(fmt.Sprintf(format, args...))
}

// WithWrap returns a copy whose cause is cause, still wrapping e (errors.Is finds both).
func (e *Error) WithWrap(cause error) *fosite.RFC6749Error {
	return e.RFC6749().WithWrap(errors.Join(e, cause))
}

// The error codes of the pending-grant lifecycle, each defined once with HTTP 400 as RFC 8628 §3.5 and
// CIBA §11 require. Use them through their With* methods, which copy.
var (
	// ErrAuthorizationPending: the user has not acted yet; the client polls again (RFC 8628 §3.5,
	// CIBA §11).
	ErrAuthorizationPending = NewError("authorization_pending",
		"The authorization request is still pending: the user has not yet completed the user interaction steps.", http.StatusBadRequest)
	// ErrSlowDown: still pending, and the client polled too soon; it MUST add 5 seconds to its interval
	// for this and all later requests (RFC 8628 §3.5, CIBA §11).
	ErrSlowDown = NewError("slow_down",
		"The authorization request is still pending and the client is polling too often: increase the polling interval by 5 seconds.", http.StatusBadRequest)
	// ErrExpiredToken: the handle has expired; the client must start over (RFC 8628 §3.5, CIBA §11).
	ErrExpiredToken = NewError("expired_token", "The handle has expired. Start a new authorization request.", http.StatusBadRequest)
	// ErrAccessDenied: the user declined. fosite's own ErrAccessDenied answers 403, which suits the
	// authorization endpoint but not a token endpoint: RFC 8628 §3.5 and CIBA §11 use the RFC 6749 §5.2
	// error response, which is 400.
	ErrAccessDenied = NewError("access_denied", "The end user denied the authorization request.", http.StatusBadRequest)
	// ErrTooManyAttempts refuses a guess (a user-code lookup) once the failure limit for the caller is
	// reached (RFC 8628 §5.1). It is temporarily_unavailable with 429 so that a script backs off; the
	// hint says why.
	ErrTooManyAttempts = NewError("temporarily_unavailable", "Too many failed attempts. Try again later.", http.StatusTooManyRequests)
	// ErrInvalidUserCode answers a user code that matches no live request. Wrong, expired and already
	// used codes all get it, so the answer tells a guesser nothing.
	ErrInvalidUserCode = NewError("invalid_user_code",
		"The user code is not valid: it may be mistyped, expired or already used.", http.StatusBadRequest)
)
