package ciba

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
)

// RequestLifespanProvider gives the default lifetime of a request (CIBA Core §7.3 expires_in), and the
// largest requested_expiry honoured (§7.1).
type RequestLifespanProvider interface {
	GetCIBARequestLifespan(ctx context.Context) (def, max time.Duration)
}

// PollingIntervalProvider gives the minimum time between polls (CIBA Core §7.3 interval).
type PollingIntervalProvider interface {
	GetCIBAPollingInterval(ctx context.Context) time.Duration
}

// BindingMessageLimitProvider gives the longest binding_message accepted, in characters (CIBA Core §7.1:
// "relatively short").
type BindingMessageLimitProvider interface {
	GetCIBABindingMessageMaxLength(ctx context.Context) int
}

// RequestSigningAlgsProvider gives the JWS algorithms accepted for signed authentication requests
// (CIBA Core §7.1.1); asymmetric algorithms only. Empty: signed requests are not supported.
type RequestSigningAlgsProvider interface {
	GetCIBARequestSigningAlgs(ctx context.Context) []string
}

// EnrollmentProvider gives the enrolment fallback's verification URI and user-code format (this
// module's extension, built on RFC 8628 §3.2–3.3).
type EnrollmentProvider interface {
	GetCIBAVerificationURI(ctx context.Context) string
	GetCIBAUserCodeFormat(ctx context.Context) pending.UserCodeFormat
}

// IssuerProvider gives the issuer identifier a signed request's aud must name (CIBA Core §7.1.1).
type IssuerProvider interface {
	GetCIBAIssuer(ctx context.Context) string
}

// Config is what the CIBA handlers read.
type Config interface {
	fosite.ScopeStrategyProvider
	fosite.AudienceStrategyProvider
	fosite.JWKSFetcherStrategyProvider
	fosite.GlobalSecretProvider
	RequestLifespanProvider
	PollingIntervalProvider
	BindingMessageLimitProvider
	RequestSigningAlgsProvider
	EnrollmentProvider
	IssuerProvider
}

// SlowDownStep is what a slow_down adds to the polling interval (CIBA Core §11: at least 5 seconds).
const SlowDownStep = 5 * time.Second
