package otp

import (
	"net/http"

	"github.com/fosite-contrib/grants/handler/pending"
)

// Errors of the OTP grant that fosite does not define. Use them through their With* methods, which copy.
var (
	// ErrResendTooSoon refuses a send that comes less than the challenge's interval after the previous
	// one. It is slow_down (the code RFC 8628 §3.5 and CIBA §11 use for "too fast"), with 400.
	ErrResendTooSoon = pending.NewError("slow_down", "A code was sent to this challenge less than 'interval' seconds ago. Wait before asking for another.", http.StatusBadRequest)
	// ErrQuotaExceeded refuses a send or a new challenge once a send quota is used up. It is
	// temporarily_unavailable with 429, and the response carries Retry-After (RFC 9110 §10.2.3).
	ErrQuotaExceeded = pending.NewError("temporarily_unavailable", "Too many codes were requested. Try again later.", http.StatusTooManyRequests)
)
