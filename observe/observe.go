package observe

import (
	"context"
	"errors"
	"time"
)

// Step is a step in the life of a pending grant (see package handler/pending).
type Step string

// The steps of a pending grant, as the grants' lifecycle reports them.
const (
	// StepStart stores a new grant: the device authorization request (RFC 8628 §3.1), the CIBA
	// authentication request (CIBA §7), the OTP challenge.
	StepStart Step = "start"
	// StepLookup finds the grant a person's typed user code names (RFC 8628 §3.3), through the
	// guessing limits (§5.1).
	StepLookup Step = "lookup"
	// StepDecide records an approval or a denial.
	StepDecide Step = "decide"
	// StepPoll answers a token request for a polled grant (RFC 8628 §3.4–3.5, CIBA §10.1 and §11).
	StepPoll Step = "poll"
	// StepLoad answers a token request for a grant that is not polled (the OTP grant).
	StepLoad Step = "load"
	// StepRedeem consumes an approved grant and issues its tokens.
	StepRedeem Step = "redeem"
)

// Outcomes a step ends with besides an error code (see Outcome).
const (
	// OutcomeOK: the step did what was asked (a poll of an approved grant: tokens follow).
	OutcomeOK = "ok"
	// OutcomeApproved and OutcomeDenied end a decide step that recorded a decision.
	OutcomeApproved = "approved"
	OutcomeDenied   = "denied"
	// OutcomeOtherError is any error that is not one of the error codes Outcome knows.
	OutcomeOtherError = "other_error"
)

// Grants is told about every step of every pending grant.
//
// GrantStep is called when a step begins; it returns the context the step runs in (its store calls
// see it, so a tracer's span becomes their parent) and a function that the step calls exactly once,
// when it ends, with its outcome: OutcomeOK, OutcomeApproved, OutcomeDenied, an RFC 6749 §5.2 error
// code (authorization_pending, slow_down, expired_token, access_denied, invalid_grant, …) or
// OutcomeOtherError. grant is a pending.Kind ("device_code", "ciba", "otp").
type Grants interface {
	GrantStep(ctx context.Context, grant string, step Step) (context.Context, func(outcome string))
}

// Limits is told when a limiter refuses an attempt because a counter reached its limit. limiter names
// the limiter ("device-user-code", "ciba-user-code", "client-auth", …) and counter the count that was
// full ("address", "global", "account", "global-signed-in", "client"). Both come from code, never from
// a request.
type Limits interface {
	LimitRefused(ctx context.Context, limiter, counter string)
}

// Outbox is told about every delivery attempt of the durable outbox: the message kind (set by the code
// that queued it, such as "ciba.ping"), the outcome ("delivered", "retry" or "failed") and how long
// the attempt took. ctx is the worker's, not a request's.
type Outbox interface {
	OutboxAttempt(ctx context.Context, kind, outcome string, took time.Duration)
}

// Audit is told about every batch the audit log appends: how many events one signature sealed, how
// long the append took (signing and storing, retries included), and its error.
type Audit interface {
	AuditBatch(events int, took time.Duration, err error)
}

// Store is told about every call a store makes to its database. system names the database
// ("sqlite", "postgresql"), operation the statement ("select pending_grants", "insert access_tokens",
// "begin", "commit", …); StoreCall returns the context the call runs in and a function called once when
// it ends, with its error.
type Store interface {
	StoreCall(ctx context.Context, system, operation string) (context.Context, func(err error))
}

// HTTP is told about every request a Handler serves. HTTPRequest is called when the request arrives
// (ctx already carries its request ID) and returns the context to serve it with; the returned function
// is called when the response is written, with the route pattern that served it ("" when none did)
// and the status.
type HTTP interface {
	HTTPRequest(ctx context.Context, method string) (context.Context, func(route string, status int))
}

// Observer is everything this module reports: an implementation for metrics (package
// observe/metrics), one for traces (observe/tracing), several at once with Multi.
//
// Every method must be safe for concurrent use and quick: they run on the request path.
type Observer interface {
	Grants
	Requests
	Limits
	Outbox
	Audit
	Store
	HTTP
}

// Nop observes nothing; it is what a nil Observer means.
type Nop struct{}

var _ Observer = Nop{}

func nopEnd(string)                                                      {}
func nopEndErr(error)                                                    {}
func nopEndHTTP(string, int)                                             {}
func (Nop) LimitRefused(context.Context, string, string)                 {}
func (Nop) OutboxAttempt(context.Context, string, string, time.Duration) {}
func (Nop) AuditBatch(int, time.Duration, error)                         {}

// GrantStep implements Grants.
func (Nop) GrantStep(ctx context.Context, _ string, _ Step) (context.Context, func(string)) {
	return ctx, nopEnd
}

// StoreCall implements Store.
func (Nop) StoreCall(ctx context.Context, _, _ string) (context.Context, func(error)) {
	return ctx, nopEndErr
}

// HTTPRequest implements HTTP.
func (Nop) HTTPRequest(ctx context.Context, _ string) (context.Context, func(string, int)) {
	return ctx, nopEndHTTP
}

// Multi returns an Observer that tells each of observers in turn (nil ones are skipped): contexts are
// passed from one to the next, and end functions are called in reverse order.
func Multi(observers ...Observer) Observer {
	m := make(multi, 0, len(observers))
	for _, o := range observers {
		if o != nil {
			m = append(m, o)
		}
	}
	switch len(m) {
	case 0:
		return Nop{}
	case 1:
		return m[0]
	}
	return m
}

type multi []Observer

func (m multi) GrantStep(ctx context.Context, grant string, step Step) (context.Context, func(string)) {
	ends := make([]func(string), len(m))
	for i, o := range m {
		ctx, ends[i] = o.GrantStep(ctx, grant, step)
	}
	return ctx, func(outcome string) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](outcome)
		}
	}
}

func (m multi) StoreCall(ctx context.Context, system, operation string) (context.Context, func(error)) {
	ends := make([]func(error), len(m))
	for i, o := range m {
		ctx, ends[i] = o.StoreCall(ctx, system, operation)
	}
	return ctx, func(err error) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](err)
		}
	}
}

func (m multi) HTTPRequest(ctx context.Context, method string) (context.Context, func(string, int)) {
	ends := make([]func(string, int), len(m))
	for i, o := range m {
		ctx, ends[i] = o.HTTPRequest(ctx, method)
	}
	return ctx, func(route string, status int) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](route, status)
		}
	}
}

func (m multi) LimitRefused(ctx context.Context, limiter, counter string) {
	for _, o := range m {
		o.LimitRefused(ctx, limiter, counter)
	}
}

func (m multi) OutboxAttempt(ctx context.Context, kind, outcome string, took time.Duration) {
	for _, o := range m {
		o.OutboxAttempt(ctx, kind, outcome, took)
	}
}

func (m multi) AuditBatch(events int, took time.Duration, err error) {
	for _, o := range m {
		o.AuditBatch(events, took, err)
	}
}

// knownCodes are the error codes Outcome passes through: those of RFC 6749 §4.1.2.1 and §5.2, RFC 8628
// §3.5, CIBA §11 and §13, RFC 7591 §3.2.2, RFC 9449, and this module's own.
var knownCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "access_denied": true, "server_error": true,
	"temporarily_unavailable": true, "unsupported_response_type": true, "invalid_request_object": true,
	"authorization_pending": true, "slow_down": true, "expired_token": true,
	"expired_login_hint_token": true, "unknown_user_id": true, "missing_user_code": true,
	"invalid_user_code": true, "invalid_binding_message": true, "transaction_failed": true,
	"invalid_client_metadata": true, "invalid_redirect_uri": true, "invalid_dpop_proof": true,
	"use_dpop_nonce": true, "login_required": true, "consent_required": true, "request_unauthorized": true,
}

// coded is an error that carries an RFC 6749 error code as its Error text and an HTTP status: fosite's
// RFC6749Error and this module's pending.Error.
type coded interface {
	error
	StatusCode() int
}

// Outcome is the label of a step that ended with err: OutcomeOK for nil; the RFC 6749 error code of
// the first error in err's chain that carries one (fosite's errors and this module's), when it is a
// code this package knows; OutcomeOtherError for anything else. The set of values is fixed, so it is a
// safe metric label, and none of them says more than the error code the client was answered with.
func Outcome(err error) string {
	if err == nil {
		return OutcomeOK
	}
	var c coded
	if errors.As(err, &c) && knownCodes[c.Error()] {
		return c.Error()
	}
	return OutcomeOtherError
}
