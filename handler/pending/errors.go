package pending

import (
	"net/http"

	"github.com/ory/fosite"
)

// Error codes that fosite v0.49.0 does not define, each once, with HTTP 400 as RFC 8628 §3.5 and
// CIBA §11 require. Use them through their With* methods, which copy: never modify them in place.
var (
	// ErrAuthorizationPending: the user has not acted yet; the client polls again (RFC 8628 §3.5,
	// CIBA §11).
	ErrAuthorizationPending = &fosite.RFC6749Error{
		ErrorField:       "authorization_pending",
		DescriptionField: "The authorization request is still pending: the user has not yet completed the user interaction steps.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrSlowDown: still pending, and the client polled too soon; it MUST add 5 seconds to its interval
	// for this and all later requests (RFC 8628 §3.5, CIBA §11).
	ErrSlowDown = &fosite.RFC6749Error{
		ErrorField:       "slow_down",
		DescriptionField: "The authorization request is still pending and the client is polling too often: increase the polling interval by 5 seconds.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrExpiredToken: the handle has expired; the client must start over (RFC 8628 §3.5, CIBA §11).
	ErrExpiredToken = &fosite.RFC6749Error{
		ErrorField:       "expired_token",
		DescriptionField: "The handle has expired. Start a new authorization request.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrAccessDenied: the user declined. fosite's own ErrAccessDenied answers 403, which suits the
	// authorization endpoint but not a token endpoint: RFC 8628 §3.5 and CIBA §11 use the RFC 6749 §5.2
	// error response, which is 400.
	ErrAccessDenied = &fosite.RFC6749Error{
		ErrorField:       "access_denied",
		DescriptionField: "The end user denied the authorization request.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrTooManyAttempts refuses a guess (a user-code lookup, an OTP) once the failure limit for the
	// caller, or for everyone, is reached (RFC 8628 §5.1). It is temporarily_unavailable with 429 so
	// that a script backs off; the hint says why.
	ErrTooManyAttempts = &fosite.RFC6749Error{
		ErrorField:       "temporarily_unavailable",
		DescriptionField: "Too many failed attempts. Try again later.",
		CodeField:        http.StatusTooManyRequests,
	}
)
