package ciba

import (
	"context"
	"errors"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
)

// This file holds what an application plugs into the CIBA grant: how hints name users (HintResolver),
// how users are reached on their authentication device (AuthenticationDevice), how a user_code is
// checked (UserCodeChecker), how a device is linked during the enrolment fallback (DeviceEnroller), and
// where ping and push callbacks are queued (Outbox). The decision API the authentication-device side
// calls is Decider (flow_decision.go); the enrolment page uses EnrollmentVerifier (flow_enrollment.go).
//
// These types are stable: new members are added, existing ones do not change.

// HintKind names which of the three hints of CIBA Core §7.1 a request carried.
type HintKind string

// The hints of CIBA Core §7.1. A request carries exactly one (§7.2), or none when the client opted in
// to the enrolment fallback.
const (
	HintLoginHint      HintKind = "login_hint"
	HintLoginHintToken HintKind = "login_hint_token"
	HintIDTokenHint    HintKind = "id_token_hint"
)

// Hint is the hint of a backchannel authentication request (CIBA Core §7.1), as the resolver gets it.
type Hint struct {
	// Kind is which hint the client sent.
	Kind HintKind
	// Value is the hint as sent: the login_hint string, the login_hint_token (not validated: its format
	// is the application's business, CIBA Core §7.1), or the id_token_hint JWT.
	Value string
	// Subject is, for an id_token_hint only, the sub claim of the ID token, whose signature and issuer
	// this server has already verified with its own key (CIBA Core §7.1, OIDC Core §3.1.2.1: it may be
	// expired). Empty for the other kinds.
	Subject string
	// ClientID is the client that sent the request.
	ClientID string
}

// User is the end-user a hint names, and how to reach them.
type User struct {
	// Subject is the user's subject identifier, as it will appear in the ID token's sub claim.
	Subject string
	// Devices are the user's authentication devices the server can reach now. Empty means none: the
	// request then fails with unknown_user_id, or, for a client that opted in, falls back to device
	// enrolment (see EnrollmentVerifier).
	Devices []Device
}

// Device is one authentication device of a user, opaque to this package: the application decides what
// the ID means (an e-mail address, a phone number, a push-registration handle).
type Device struct {
	// ID identifies the device to the application's AuthenticationDevice.
	ID string
	// Kind is the application's channel name ("email", "sms", "app"...), informative.
	Kind string
}

// HintResolver turns a hint into a user (CIBA Core §7.2: "the OpenID Provider MUST process the hint
// provided to determine if the hint is valid and if it corresponds to a valid user").
//
// ResolveHint returns the user, or an error:
//   - ErrUnknownUserID (or an error wrapping it) when the hint names no user, or is invalid;
//   - ErrExpiredLoginHintToken when a login_hint_token has expired;
//   - anything else is a server error (the client gets server_error; the error is logged).
//
// It must be safe for concurrent use, and should take the same time whether or not the user exists.
type HintResolver interface {
	ResolveHint(ctx context.Context, hint Hint) (*User, error)
}

// UserCodeChecker checks the user_code of CIBA Core §7.1.2, which a client sends when it registered
// backchannel_user_code_parameter. CheckUserCode returns nil when code is the user's code,
// ErrInvalidUserCode (or an error wrapping it) when it is not, anything else for a server error.
// Implementations should compare in constant time and limit guesses per user.
type UserCodeChecker interface {
	CheckUserCode(ctx context.Context, subject, code string) error
}

// Notification asks the application to reach the user on their authentication device (CIBA Core §8)
// about one backchannel authentication request. It carries no secret: neither the auth_req_id nor the
// client_notification_token.
type Notification struct {
	// Request is the pending request: its Ref is what the device side passes to Decider.Approve/Deny.
	Request
	// Devices are the user's devices, as the HintResolver returned them.
	Devices []Device
}

// AuthenticationDevice reaches users on their authentication device (CIBA Core §8). The backchannel
// endpoint calls Notify once per request, after storing it and before answering the client. A Notify
// error fails the request with server_error (the stored request then expires unused). Notify should
// return quickly: queue, don't deliver. Must be safe for concurrent use.
type AuthenticationDevice interface {
	Notify(ctx context.Context, n Notification) error
}

// DeviceEnroller links an authentication device to a user during the enrolment fallback (this module's
// extension; see the package guide). EnrollmentVerifier.Approve calls Enroll, after the user has
// authenticated strongly at the verification page and before the request is approved; an error aborts
// the approval. Later requests naming that user then take the normal path (the HintResolver should
// return the new device). Must be safe for concurrent use.
type DeviceEnroller interface {
	Enroll(ctx context.Context, subject string, req Request) error
}

// Request is a pending backchannel authentication request as the authentication-device side sees it
// (CIBA Core §8: who asks, for what, with which binding message). It carries no secret.
type Request struct {
	// Ref identifies the request to the Decider: the fosite request ID its tokens will carry (so it
	// equals RequestID). It is not the auth_req_id and not a secret: Approve and Deny also require the
	// subject the request is for.
	Ref string
	// Subject is the user the request is for; empty for an enrolment-fallback request not yet enrolled.
	Subject string
	// ClientID and ClientName describe the client (ClientName is empty when the client has none).
	ClientID   string
	ClientName string
	// Mode is the client's token delivery mode.
	Mode DeliveryMode
	// BindingMessage is the client's binding_message, to show on both devices (CIBA Core §7.1).
	BindingMessage string
	// Scopes are the requested scopes; ACRValues the requested acr_values, in order of preference.
	Scopes    []string
	ACRValues []string
	// RequestID is the fosite request ID that the tokens will carry (for logs and audit). Not a secret.
	RequestID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CallbackKind says what a queued callback carries.
type CallbackKind string

// The callbacks of CIBA Core §10.2, §10.3 and §12.
const (
	CallbackPing      CallbackKind = "ciba.ping"       // {"auth_req_id": ...} (§10.2); outbox.KindCIBAPing
	CallbackPushToken CallbackKind = "ciba.push"       // the token response (§10.3.1); outbox.KindCIBAPush
	CallbackPushError CallbackKind = "ciba.push.error" // the error payload (§12)
)

// Callback is one HTTP POST to a client's backchannel_client_notification_endpoint: JSON body, Bearer
// client_notification_token (CIBA Core §10.2, §10.3). Token and, for push, Body are secrets: an Outbox
// must store them protected and never log them.
type Callback struct {
	// ID is unique per callback and derived from the event (kind + ":" + request reference), so it is
	// an idempotency key.
	ID string
	// Kind is what the callback carries.
	Kind CallbackKind
	// Target is the client's notification endpoint (https, CIBA Core §4).
	Target string
	// Token is the client_notification_token, sent as "Authorization: Bearer <Token>".
	Token string
	// Body is the JSON body.
	Body []byte
	// ClientID is the client the callback is for (for logs).
	ClientID string
}

// Outbox queues callbacks for delivery. Enqueue must join the transaction ctx carries when the store is
// transactional (fosite's storage.Transactional), so that a callback is queued if and only if the state
// change it reports is committed. Delivery (retries, SSRF defences, no redirects) is the outbox's job.
// compose adapts the module's outbox package to this interface.
type Outbox interface {
	Enqueue(ctx context.Context, c Callback) error
}

// Errors the application interfaces return; all are RFC 6749 style errors with the CIBA Core §13 codes,
// so the endpoint passes them to the client as they are. Copy them with their With* methods; never
// modify them.
var (
	// ErrUnknownUserID: the hint names no user, or is invalid (CIBA Core §13, 400).
	ErrUnknownUserID = pending.NewError("unknown_user_id", "The OpenID Provider is not able to identify which end-user the client wishes to be authenticated by means of the hint provided in the request.", 400)
	// ErrExpiredLoginHintToken: the login_hint_token has expired (CIBA Core §13, 400).
	ErrExpiredLoginHintToken = pending.NewError("expired_login_hint_token", "The login_hint_token provided in the authentication request is not valid because it has expired.", 400)
	// ErrMissingUserCode: the client registered backchannel_user_code_parameter but sent no user_code
	// (CIBA Core §13, 400).
	ErrMissingUserCode = pending.NewError("missing_user_code", "User code is required but was missing from the request.", 400)
	// ErrInvalidUserCode: the user_code is wrong (CIBA Core §13, 400).
	ErrInvalidUserCode = pending.NewError("invalid_user_code", "User code was invalid.", 400)
	// ErrInvalidBindingMessage: the binding_message is too long or holds characters that cannot be
	// shown (CIBA Core §13, 400).
	ErrInvalidBindingMessage = pending.NewError("invalid_binding_message", "The binding message is invalid or unacceptable for use in the context of the given request.", 400)
	// ErrTransactionFailed is the §12 push error for a request that failed for another reason than a
	// denial or expiry.
	ErrTransactionFailed = pending.NewError("transaction_failed", "The OpenID Provider encountered an unexpected condition that prevented it from successfully completing the transaction.", 400)
)

// ErrRequestNotFound is returned by the Decider when no live request has that reference for that
// subject: unknown, another user's, already decided, or expired. Test with errors.Is.
var ErrRequestNotFound = errors.New("ciba: no pending request with that reference for that user")

// IDTokenHintVerifier checks an id_token_hint (CIBA Core §7.1): an ID token this server issued to
// clientID, with a valid signature by the server's key and this server as issuer; it may have expired
// (OIDC Core §3.1.2.1). It returns the token's subject, or ErrUnknownUserID (wrapped) when the token
// does not pass. compose provides one built on the ID token signing key (KeyIDTokenHintVerifier).
type IDTokenHintVerifier interface {
	VerifyIDTokenHint(ctx context.Context, token, clientID string) (subject string, err error)
}
