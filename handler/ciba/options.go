package ciba

import (
	"io"
	"log/slog"
	"time"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
)

// SlowDownStep is what a slow_down adds to the polling interval (CIBA Core §11: at least 5 seconds).
const SlowDownStep = pending.DefaultSlowDownStep

// Options configure OpenID CIBA Core 1.0. The zero value of each field means its default; New fills
// them in (Grant.Options returns the result).
type Options struct {
	// BackchannelURL is the full URL of the backchannel authentication endpoint, published in discovery
	// (CIBA Core §4). A private_key_jwt client assertion sent there may name it, the issuer or the token
	// endpoint as its audience (§7.1).
	BackchannelURL string
	// VerificationURI is the page of the enrolment fallback (user_code entry). Required for clients
	// that opt in to the fallback.
	VerificationURI string
	// RequestLifespan is how long a request lives without requested_expiry (§7.3 expires_in). Default
	// 10 minutes.
	RequestLifespan time.Duration
	// MaxRequestLifespan bounds requested_expiry (§7.1). Default 1 hour.
	MaxRequestLifespan time.Duration
	// PollingInterval is the minimum time between polls, in whole seconds (§7.3 interval). Default 5
	// seconds.
	PollingInterval time.Duration
	// BindingMessageMaxLength is the longest binding_message accepted, in characters (§7.1: "relatively
	// short"). Default 64.
	BindingMessageMaxLength int
	// RequestSigningAlgs are the JWS algorithms accepted for signed requests (§7.1.1); asymmetric ones
	// only (others are dropped). Default DefaultRequestSigningAlgs (PS256, ES256).
	RequestSigningAlgs []string
	// UserCodeFormat is the format of the enrolment fallback's user codes. Default
	// pending.UserCodeBase20.
	UserCodeFormat pending.UserCodeFormat
	// UserCodeLimits bound guessing of the fallback's user codes; each zero field takes its value from
	// pending.DefaultUserCodeLimits, and -1 turns a limit off.
	UserCodeLimits pending.Limits

	// Resolver turns hints into users. Required.
	Resolver HintResolver
	// Devices reaches users on their authentication device. Required.
	Devices AuthenticationDevice
	// Enroller links devices during the enrolment fallback; nil disables the fallback's approval.
	Enroller DeviceEnroller
	// UserCodes checks user_code (§7.1.2); nil: backchannel_user_code_parameter is unsupported.
	UserCodes UserCodeChecker
	// IDTokenHints verifies id_token_hint; nil refuses that hint with unknown_user_id.
	IDTokenHints IDTokenHintVerifier
	// DPoP checks DPoP proofs sent to the backchannel authentication endpoint (RFC 9449; see the
	// package documentation): the key a request proves binds its tokens. Nil ignores DPoP headers there.
	// compose.DPoP implements it.
	DPoP DPoPVerifier
	// Outbox queues ping and push callbacks; nil means only poll mode is offered (ping and push
	// clients are refused with unauthorized_client). It must queue in the store's transactions (see
	// Outbox).
	Outbox Outbox
	// Kick, when set, is called after a decision that queued a callback has committed (for example
	// outbox.Worker.Kick, so the callback leaves at once rather than at the worker's next poll).
	Kick func()
	// AllowLoopbackHTTP accepts http:// notification endpoints on loopback addresses (development only).
	AllowLoopbackHTTP bool

	// Policy is the cross-device security policy of the grant (RFC 10027; see pending.Policy and the
	// package guide's "Cross-device phishing"). Defaults: at most 5 requests per user per 15 minutes
	// (Initiation.PerUser; -1 turns it off), so that a flood of requests cannot wear a user down into
	// approving one; a fallback user code looked up by more than 3 signed-in accounts is burned
	// (BurnAfterAccounts; -1 turns it off). Limits per client and per client address are off by
	// default: CIBA clients are servers that ask for many users from one address. When
	// Policy.Ceiling or ClientCeilings list scopes, list openid too (CIBA always asks for it).
	Policy pending.Policy
	// Audit receives an event whenever a policy acts, whenever a request is flagged, and for every
	// request (audit.EventRequested), decision (EventApproved, EventDenied), redemption (EventRedeemed;
	// for push, when the tokens leave with the approval) and replay (EventRevoked, reason "replayed");
	// nil records none. Usually an *audit.Log.
	Audit audit.Sink

	// Rand is the source of randomness for user codes; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per refused request, decisions and failures (never a secret); nil
	// discards. Pending polls are not logged.
	Logger *slog.Logger
}

// withDefaults returns o with every default filled in, or an error naming what is wrong.
func (o Options) withDefaults() (Options, error) {
	if o.Resolver == nil {
		return o, errorf("Options.Resolver (a HintResolver) is required")
	}
	if o.Devices == nil {
		return o, errorf("Options.Devices (an AuthenticationDevice) is required")
	}
	if o.RequestLifespan <= 0 {
		o.RequestLifespan = 10 * time.Minute
	}
	if o.MaxRequestLifespan <= 0 {
		o.MaxRequestLifespan = time.Hour
	}
	o.RequestLifespan = min(o.RequestLifespan, o.MaxRequestLifespan).Round(time.Second)
	o.MaxRequestLifespan = o.MaxRequestLifespan.Round(time.Second)
	if o.PollingInterval <= 0 {
		o.PollingInterval = 5 * time.Second
	}
	o.PollingInterval = max(o.PollingInterval.Round(time.Second), time.Second)
	if o.BindingMessageMaxLength <= 0 {
		o.BindingMessageMaxLength = 64
	}
	if len(o.RequestSigningAlgs) == 0 {
		o.RequestSigningAlgs = DefaultRequestSigningAlgs
	} else {
		algs := []string{}
		for _, a := range o.RequestSigningAlgs {
			if IsAsymmetricAlg(a) {
				algs = append(algs, a)
			}
		}
		o.RequestSigningAlgs = algs
	}
	if o.UserCodeFormat.Length == 0 {
		o.UserCodeFormat = pending.UserCodeBase20
	}
	if err := o.UserCodeFormat.Validate(); err != nil {
		return o, errorf("%v", err)
	}
	o.UserCodeLimits = o.UserCodeLimits.Or(pending.DefaultUserCodeLimits)
	o.Policy.Initiation = o.Policy.Initiation.Or(DefaultInitiationLimits)
	if o.Policy.BurnAfterAccounts == 0 {
		o.Policy.BurnAfterAccounts = DefaultBurnAfterAccounts
	}
	return o, nil
}

// DefaultInitiationLimits bound backchannel authentication requests (Options.Policy.Initiation): 5
// per user per 15 minutes. RFC 10027 §4.2.3 (and its B9 scenario) describes attackers sending request
// after request until the user approves one to make the prompts stop.
var DefaultInitiationLimits = pending.InitiationLimits{PerUser: 5, Window: 15 * time.Minute}

// DefaultBurnAfterAccounts is Options.Policy.BurnAfterAccounts by default (see rfc8628's).
const DefaultBurnAfterAccounts = 3
