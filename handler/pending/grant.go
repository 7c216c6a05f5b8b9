package pending

import (
	"time"

	"github.com/ory/fosite"
)

// Kind names the grant a pending record belongs to. It keeps the records of different grants apart:
// a device_code can never be redeemed as an auth_req_id, and a user code looked up for the device
// grant never finds an OTP challenge.
type Kind string

// The kinds of pending grants this module stores.
const (
	KindDeviceCode Kind = "device_code" // RFC 8628 device authorization grant
	KindCIBA       Kind = "ciba"        // OpenID CIBA Core 1.0
	KindOTP        Kind = "otp"         // the one-time-passcode grant
)

// State is where a pending grant is in its life:
//
//	PENDING ──(user acts)──► APPROVED ──(client redeems once)──► CONSUMED
//	   └──► DENIED
//
// Expiry is not a state: it is a property of time (see [Grant.ExpiresAt]), so that no background job is
// needed for a code to stop working at the right moment.
type State string

// The states of a pending grant.
const (
	StatePending  State = "pending"
	StateApproved State = "approved"
	StateDenied   State = "denied"
	StateConsumed State = "consumed"
)

// Grant is one pending grant: what a client asked for, what the user decided, and where polling stands.
//
// Secrets are never stored: the client's handle (device_code, auth_req_id, oob_code) is kept only as its
// HMAC signature, and the user-facing code only as a keyed hash.
type Grant struct {
	// Kind is the grant this record belongs to.
	Kind Kind
	// HandleSignature is the HMAC signature of the handle the client holds; it is the primary key.
	HandleSignature string
	// UserCodeSignature is the keyed hash of the normalised user code, or "" when the grant has none.
	UserCodeSignature string

	// Request is the client's original request: client, requested scopes and audience, form, and the
	// session the tokens will be issued with (filled in on approval). Its ID is the request ID every
	// token issued from this grant carries, which is what a replayed handle revokes.
	Request fosite.Requester

	// State is the grant's current state.
	State State
	// CreatedAt is when the client asked.
	CreatedAt time.Time
	// ExpiresAt is when the grant stops being usable. On approval it may move (a pickup window).
	ExpiresAt time.Time

	// Interval is the current minimum time between two polls (RFC 8628 §3.5, CIBA §7.3).
	Interval time.Duration
	// LastPolledAt is when the client last polled, zero before the first poll.
	LastPolledAt time.Time

	// CodeSentAt is when the user's code was last sent to them (a grant whose code the server sends,
	// such as the OTP grant's), zero before the first send.
	CodeSentAt time.Time
	// ResendInterval is the minimum time between two sends of the code.
	ResendInterval time.Duration

	// Subject is the user the grant is for: known when the client named them (a CIBA hint, an OTP
	// identifier), else set by the decision; the user it was approved (or denied) for.
	Subject string
	// Actor is who approved or denied, when it is not the subject (kiosk staff, an administrator).
	Actor string
	// DecidedAt is when the grant was approved or denied.
	DecidedAt time.Time

	// LoginHint is the account identifier the client sent, if any (the staffed-kiosk deployment).
	LoginHint string
	// Device describes the client's device as the server saw it, for the approval page (RFC 8628 §5.4).
	Device DeviceInfo
	// Extra holds grant-specific, non-secret values (CIBA's delivery mode, OTP's channel, ...).
	Extra map[string]string
	// Callback is the call the server owes the client about this grant (CIBA ping and push); nil when
	// it owes none.
	Callback *Callback
}

// Callback is where and how the server calls a client back about its grant (CIBA Core §10.2, §10.3):
// the client's endpoint, the bearer credential the client gave for it, and the handle the call carries.
// The credential and the handle must be presented later, so they cannot be hashed: they are kept only
// sealed (encrypted and authenticated under a key derived from the global secret).
type Callback struct {
	// Endpoint is the client's notification endpoint.
	Endpoint string
	// SealedToken is the sealed bearer credential; SealedHandle the sealed handle.
	SealedToken  []byte
	SealedHandle []byte
	// OnExpiry is true when the client must be told that its grant expired undecided (CIBA push, §12).
	OnExpiry bool
	// Notified is true once the grant's final callback was queued (see CallbackStorage).
	Notified bool
}

// DeviceInfo is what the server saw of the device that asked. It is shown to the user who approves, so
// they can tell whether the request really comes from the device in front of them (RFC 8628 §5.4).
type DeviceInfo struct {
	RemoteAddr string
	UserAgent  string
}

// ClientID returns the ID of the client the grant was issued to.
func (g *Grant) ClientID() string {
	if g.Request == nil || g.Request.GetClient() == nil {
		return ""
	}
	return g.Request.GetClient().GetID()
}

// Expired reports whether the grant can no longer be used at now.
func (g *Grant) Expired(now time.Time) bool {
	return !now.Before(g.ExpiresAt)
}

// Decision is a user's answer to a pending grant.
type Decision struct {
	// Approved is true to approve, false to deny.
	Approved bool
	// Subject is the user the grant is for. Required to approve.
	Subject string
	// Actor is who decided, when it is not the subject. Empty otherwise.
	Actor string
	// Session is the session tokens will be issued with. Required to approve; for ID tokens it must be
	// an openid.Session whose claims carry the subject.
	Session fosite.Session
	// GrantedScopes and GrantedAudience are what the user granted: a subset of what was requested, plus
	// the scopes ChosenScopes puts in place of requested ones.
	GrantedScopes   []string
	GrantedAudience []string
	// ChosenScopes maps a requested scope that carries a choice (package scopechoice: "photos" granted
	// as "photos:read") to the scopes the user chose in its place; only these may be granted without
	// having been requested (RFC 6749 §3.3).
	ChosenScopes map[string][]string
	// ExpiresAt, when not zero, replaces the grant's expiry (a pickup window after approval).
	ExpiresAt time.Time
	// From is the network address the decision was made from, when known: Policy.RefuseAcrossNetworks
	// compares it with the request's.
	From string
}
