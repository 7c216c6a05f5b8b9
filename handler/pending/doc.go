// Package pending is the core every grant of this module shares: the pending grant and its life.
//
// The device authorization grant (RFC 8628), OpenID CIBA and the one-time-passcode grant have one
// shape. A client asks; the server keeps a pending grant and gives the client a handle (device_code,
// auth_req_id, oob_code); the user acts somewhere else (types a user code, taps a link, reads out a
// code); the client presents the handle at the token endpoint until the grant is decided, and redeems
// it once:
//
//	client asks ──► PENDING ──(user acts)──► APPROVED ──(client redeems once)──► CONSUMED
//	                   └──► DENIED                  (expiry is a matter of time, not a state)
//
// This package writes that life once, so each grant package keeps only its wire format, its endpoints
// and its out-of-band step.
//
// # The lifecycle
//
// A Lifecycle serves one Kind of grant:
//
//   - Start draws the handle (256 random bits, an HMAC token stored only as its signature) and, when
//     the grant has one, the user code (drawn without bias, stored only as a keyed hash), stores the
//     grant, and draws again on a collision (MaxStartAttempts).
//   - LookupUserCode normalises what a person typed (RFC 8628 §6.1) and finds the live, pending grant,
//     through a Limiter (§5.1). A wrong code counts as a guess; the right code of a grant already decided
//     is refused the same way but counts as none.
//   - Decide checks an approval (ValidateApproval: a subject, a session, nothing granted that was not
//     requested, an ID token subject that matches) and records it, or a denial, in one conditional
//     update: of concurrent decisions exactly one is taken. A function passed along runs in the same
//     transaction (a callback or an alert queued with the decision).
//   - Load and Poll answer a token request with Check, the one mapping from a grant's state, its
//     client and the time to the answer: invalid_grant (unknown, another client's, already redeemed —
//     what the first redemption issued is then revoked), expired_token, access_denied (400),
//     authorization_pending, or nil when it may be redeemed. Poll also counts the poll: one sooner than
//     the grant's interval is slow_down and raises the interval by 5 seconds for good (RFC 8628 §3.5).
//   - Redeem consumes the grant and stores the tokens a TokenIssuer minted (access, refresh when
//     offline access was granted, ID when openid was) in one transaction: of any number of concurrent
//     redemptions exactly one gets tokens, and a failure burns nothing.
//
// # Cross-device security policies
//
// Policy is RFC 10027's set of mitigations for cross-device flows, each decided in one place of the
// Lifecycle: Admit (rate limits across instances, trusted networks, key-bound clients, one open
// request), CheckScopes and CapLifespan and TokenIssuer.Ceiling (scope, code and token ceilings),
// LookupUserCode (burned codes; a decided, expired or burned code answers as a wrong one), Proximity
// and Decide (where a request came from; approvals refused across networks), and Flag (a grant found
// abused ends, its tokens are revoked, SecurityEvents is told). Every time a policy acts, Audit gets an
// event. Each grant's Options.Policy fills in its own safe defaults.
//
// # The audit trail
//
// With AuditTrail, the lifecycle also records each grant's trail in Audit, under the grant's request
// ID: the request when Start stores it (audit.EventRequested), the decision once Decide has committed
// it (EventApproved, EventDenied), the redemption once Redeem has issued the tokens (EventRedeemed; a
// grant whose tokens leave with the approval, a CIBA push, calls Delivered instead) and the revocation
// a replay causes (EventRevoked, reason "replayed"). So every way of deciding a grant is covered without
// audit calls in the endpoints. CIBA turns it on; the device and one-time-code grants record their own
// events, with details only they know (the kiosk's proofing, the channel a code went to).
//
// # Storage
//
// Storage is the contract of the pending-grant store: every state change is one conditional update, so
// many server instances sharing one store behave like one. IndexStorage and CallbackStorage add the
// lookups a decision API needs (by request ID, by user) and the callbacks a grant owes its client
// (CIBA ping and push). AttemptStorage keeps the guessing counters. The memory and SQL stores of this
// module implement them all; storage/storagetest is the conformance suite.
//
// # Errors
//
// The error codes fosite v0.49.0 lacks (authorization_pending, slow_down, expired_token, a 400
// access_denied, invalid_user_code) are defined here once, as Error values: distinct under errors.Is
// even when they share a code, and written by fosite exactly as its own errors.
package pending
