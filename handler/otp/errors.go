package otp

import (
	"net/http"

	"github.com/ory/fosite"
)

// Errors of the OTP grant that fosite does not define. Use them through their With* methods, which copy.
var (
	// ErrResendTooSoon refuses a send that comes less than the challenge's interval after the previous
	// one. It is slow_down (the code RFC 8628 §3.5 and CIBA §11 use for "too fast"), with 400.
	ErrResendTooSoon = &fosite.RFC6749Error{
		ErrorField:       "slow_down",
		DescriptionField: "A code was sent to this challenge less than 'interval' seconds ago. Wait before asking for another.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrQuotaExceeded refuses a send or a new challenge once a send quota is used up. It is
	// temporarily_unavailable with 429, and the response carries Retry-After (RFC 9110 §10.2.3).
	ErrQuotaExceeded = &fosite.RFC6749Error{
		ErrorField:       "temporarily_unavailable",
		DescriptionField: "Too many codes were requested. Try again later.",
		CodeField:        http.StatusTooManyRequests,
	}
)
