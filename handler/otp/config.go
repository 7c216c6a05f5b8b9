package otp

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// DefaultGrantType is the grant type of the OTP token request: an absolute URI in this project's
// namespace, as RFC 6749 §4.5 asks of extension grants. It is not a urn:ietf name, because the IETF has
// registered no such grant. Deployments may publish another (GrantTypeProvider).
const DefaultGrantType fosite.GrantType = "https://github.com/fosite-contrib/grants/grant-type/otp"

// ChallengeEndpointMetadata is the discovery member (RFC 8414 §2 extension) under which the challenge
// endpoint's URL is published.
const ChallengeEndpointMetadata = "otp_challenge_endpoint"

// GrantTypeProvider gives the grant type URI of the token request.
type GrantTypeProvider interface {
	GetOTPGrantType(ctx context.Context) fosite.GrantType
}

// CodeLengthProvider gives the number of digits of a code (6 to 8).
type CodeLengthProvider interface {
	GetOTPCodeLength(ctx context.Context) int
}

// LifespanProvider gives how long a challenge, and so its code, lives.
type LifespanProvider interface {
	GetOTPLifespan(ctx context.Context) time.Duration
}

// MaxAttemptsProvider gives how many codes may be tried on one challenge before it dies.
type MaxAttemptsProvider interface {
	GetOTPMaxAttempts(ctx context.Context) int
}

// ResendIntervalProvider gives the minimum time between two sends on one challenge.
type ResendIntervalProvider interface {
	GetOTPResendInterval(ctx context.Context) time.Duration
}

// QuotasProvider gives the send quotas.
type QuotasProvider interface {
	GetOTPQuotas(ctx context.Context) Quotas
}

// Quotas bound how many codes are sent, so that the endpoint cannot be used to pump text messages (toll
// fraud) or to bomb one person's phone. Each limit counts sends in a fixed window, in the store, so the
// limits hold across server instances. A zero limit disables that limit.
type Quotas struct {
	// PerIdentifier bounds sends per account (per login hint for identifiers that name nobody).
	PerIdentifier int
	// PerClient bounds sends per client.
	PerClient int
	// PerAddress bounds sends per client network address (the kiosk's, as the server sees it).
	PerAddress int
	// ChallengesPerAddress bounds new challenges per client network address, so that a client cannot
	// fill the store or probe identifiers at speed.
	ChallengesPerAddress int
	// Window is the window of every limit.
	Window time.Duration
}

// DefaultQuotas are the quotas used when none are configured.
var DefaultQuotas = Quotas{PerIdentifier: 5, PerClient: 1000, PerAddress: 30, ChallengesPerAddress: 60, Window: time.Hour}

// Config is what the OTP handlers read.
type Config interface {
	fosite.ScopeStrategyProvider
	fosite.AudienceStrategyProvider
	GrantTypeProvider
	CodeLengthProvider
	LifespanProvider
	MaxAttemptsProvider
	ResendIntervalProvider
	QuotasProvider
}
