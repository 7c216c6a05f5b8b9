// Package ciba implements OpenID Connect Client-Initiated Backchannel Authentication (CIBA) Core 1.0 on
// top of fosite: a client that knows who the user is (a call centre, a point of sale, a smart speaker)
// asks the server to authenticate that user on the user's own device, and gets tokens once the user
// approves there. It also offers this module's enrolment fallback for users with no reachable device.
//
// # The parts
//
//   - BackchannelEndpoint serves the backchannel authentication endpoint (§7): client authentication
//     (confidential clients only, as at the token endpoint, private_key_jwt included), signed requests
//     (§7.1.1), the one-hint rule, binding_message, user_code, requested_expiry and
//     client_notification_token checks, then the acknowledgement (§7.3). Errors follow §13: a JSON body
//     with error and error_description only; 400, 401 for invalid_client, 403 for access_denied.
//   - TokenHandler is fosite's token endpoint handler for urn:openid:params:grant-type:ciba (§10.1, §11):
//     authorization_pending, slow_down (+5 s per early poll), access_denied, expired_token, invalid_grant
//     for an unknown, foreign or replayed auth_req_id (a replay also revokes what was issued), and
//     unauthorized_client for push-mode clients. The ID token carries the
//     urn:openid:params:jwt:claim:auth_req_id claim.
//   - Decider is the decision API of the authentication-device side (§8): Pending lists a user's
//     requests, Lookup shows one, Approve and Deny decide. For ping clients a decision queues the §10.2
//     callback; for push clients an approval mints the tokens and queues the §10.3 payload (with at_hash,
//     rt_hash and the auth_req_id claim in the ID token), a denial the §12 error; ExpirePush sends §12
//     expired_token for push requests nobody answered. The callback is queued in the same transaction as
//     the decision.
//   - EnrollmentVerifier is the verification page's API for the enrolment fallback (see below).
//
// New builds all of them from fosite's configuration, the store, the token strategies and Options, and
// returns them in a Grant, with the discovery metadata (Grant.Metadata: backchannel_authentication_endpoint,
// the delivery modes, the signing algorithms, backchannel_user_code_parameter_supported, the grant
// type). compose.NewCIBAGrant adapts New to fosite's compose.Factory.
//
// A request is one pending grant (package pending) of kind KindCIBA: the lifecycle there issues the
// auth_req_id, looks up the fallback's user codes through the guessing limits, records decisions once
// and answers polls; the request's reference is the grant's request ID, the user it names is the
// grant's Subject, and a ping or push client's callback is the grant's Callback. Every lookup is one
// read.
//
// # What the application provides
//
//   - HintResolver: login_hint, login_hint_token or a verified id_token_hint → the user and their
//     authentication devices (or ErrUnknownUserID, ErrExpiredLoginHintToken).
//   - AuthenticationDevice: Notify reaches the user (e-mail link, SMS, app push) with a Notification
//     carrying the request's Ref and what to show: client, binding message, scopes, acr_values. No
//     secret is in it. The device side later calls Decider.Approve(ctx, ref, decision) for the user it
//     authenticated, or Deny. The linkchannel subpackage is one such channel.
//   - UserCodeChecker (optional): checks the user_code of clients that registered
//     backchannel_user_code_parameter (§7.1.2).
//   - DeviceEnroller (optional): links a device to a user during the enrolment fallback.
//   - Outbox: queues ping and push callbacks in the decision's transaction; compose.OutboxCallbacks
//     adapts the module's outbox package, whose worker delivers them (https only, no redirects, no
//     retry after a 4xx such as 401). Without one, only poll mode is offered.
//
// # Clients
//
// A client uses CIBA when it holds the grant type urn:openid:params:grant-type:ciba, is confidential,
// and has a backchannel_token_delivery_mode (§4). DefaultClient carries the §4 metadata in fields (and
// JSON); any other fosite client may carry it in a GetMetadata() map[string]any under the registration
// names (the SQL store's clients do): see MetadataOf. Ping and push clients need an https
// backchannel_client_notification_endpoint. A client that registered
// backchannel_authentication_request_signing_alg must sign every request, with that algorithm; signed
// requests are verified with the client's JWKS or jwks_uri, with an allow-list of asymmetric algorithms
// (never none or HMAC), exp at most 60 minutes ahead, nbf at most 60 minutes back and not in the future,
// and a single-use jti.
//
// # Secrets
//
// The auth_req_id is an HMAC token (256 bits, characters A-Z a-z 0-9 . - _) stored as its signature.
// The client_notification_token must be presented later, so it is stored sealed (AES-256-GCM under a
// key derived from the global secret), as is the auth_req_id of ping and push requests, which the
// callbacks carry. Neither is logged.
//
// # The enrolment fallback
//
// A client that sets backchannel_enrollment_fallback (DefaultClient.BackchannelEnrollmentFallback)
// accepts, when the hint is missing, names nobody, or names a user without a reachable device, an
// acknowledgement that also holds the RFC 8628 members user_code, verification_uri and
// verification_uri_complete. The answer has the same shape in all three cases, so it tells nothing
// about which accounts exist. The client shows the code or a QR code; at the verification URI the user
// authenticates strongly (this is RFC 8628 §5.4 remote phishing territory: the code is on someone
// else's screen), the page calls EnrollmentVerifier.Approve, the DeviceEnroller links a device, and the
// request completes in the client's own delivery mode. The user's next requests take the normal path.
// Code lookups are attempt-limited (pending.Limiter: per address and for all anonymous callers, per
// account for signed-in ones; Options.UserCodeLimits). Standard clients that ignore the extra
// members simply poll.
//
// # Sender-constrained tokens (DPoP)
//
// RFC 9449 says nothing about CIBA, so this package decides, and binds at the backchannel request. With
// Options.DPoP set (compose.DPoP, the same verifier as the token endpoint's), a DPoP header on the
// backchannel authentication request is a proof made for a POST to Options.BackchannelURL; it is checked
// like any proof (dpop.Verifier.Verify: signature, htm, htu, iat, single-use jti, server nonce when
// required, answered with invalid_dpop_proof or use_dpop_nonce and its DPoP-Nonce header), and the
// thumbprint of its key is kept on the pending grant. The tokens of that request are then bound to that
// key, whatever the delivery mode:
//
//   - poll and ping: the session approved tokens are issued with is bound before the DPoP token
//     handler looks at the token request, so that request must carry a proof made with the same key
//     (none, or another key, is invalid_dpop_proof and consumes nothing); it gets DPoP tokens;
//   - push: there is no token request at all, so the tokens pushed to the client are issued bound to
//     that key, with token_type DPoP. A push request without a proof gets bearer tokens, and a push
//     client registered with dpop_bound_access_tokens (RFC 9449 §5.2) is refused without one.
//
// Why there. The backchannel request is the only moment before the user decides at which the client
// speaks to the server, and the only one at all in push mode, so it is where the key must be named.
// This is what RFC 9449 does for the authorization code: dpop_jkt (§10) binds the code at the
// authorization request to a key the token request must then prove, and with pushed authorization
// requests a DPoP header there does the same (§10.1). A backchannel request is, like a pushed
// authorization request, a direct and authenticated POST from the client, so it takes the header,
// which also proves possession of the key right away (a bare dpop_jkt parameter would only name one).
// A poll or ping client may also send no proof at the backchannel request and one at the token
// request only: its tokens are then bound there, like those of any other grant. The binding of a
// request is checked when it is redeemed; polls of a pending request are answered as always.
//
// # Cross-device phishing
//
// Options.Policy applies RFC 10027's mitigations (see pending.Policy). By default a user receives at
// most 5 requests per 15 minutes (RFC 10027's example B9, a prompt flood until the person approves one
// to make it stop): the sixth is refused with 429 and Retry-After and never reaches a device. Limits
// per client and per client address, one open request per client and user (OneOpenRequest), trusted
// networks, key-bound clients and scope and token ceilings are there to turn on. Decider.Report is the
// authentication device's "I did not ask for this": the request is denied (the client is pinged or
// pushed the error as on any denial), flagged, audited and announced through Policy.Events.
//
// When the hint names an account that has no authentication device, the fallback request belongs to
// that account: only it may complete the enrolment (Enrollment.MayApprove; ErrOtherAccount), so that a
// client asking for bob can never receive alice's tokens. A hint naming nobody known gets the same
// answer shape, and the client learns who approved only from the ID token. Fallback requests are
// decided through their user code only; the Decider never lists or decides them.
//
// # Audit trail
//
// With Options.Audit (an *audit.Log), every request, approval, denial, redemption (for push, when the
// tokens leave with the approval) and replay is recorded under the request's ID, by the lifecycle
// (pending.Lifecycle.AuditTrail), after it has committed: whichever device or page decided, the event
// is the same. Events carry the subject, the actor when it is not the subject, the client, the scopes
// and the addresses; never auth_req_id, a user code or the hint.
//
// # Users' devices, user codes and login_hint_tokens
//
// Devices keeps users' authentication devices in a DeviceStorage (storage/memory, storage/sql): it is
// the DeviceEnroller of the fallback, the list an account page manages (enrol, name, prefer, remove;
// exactly one preferred device per user), and what a HintResolver returns (Reachable, the preferred one
// first), so an enrolled user takes the normal path after a restart and on every instance.
//
// UserCodes is a UserCodeChecker over a UserCodeStorage: each user's user_code (§7.1) kept as a keyed
// hash, checked in constant time, wrong codes limited per user (DefaultUserCodeCheckLimits). Give it as
// Options.UserCodes, and discovery then says backchannel_user_code_parameter_supported.
//
// LoginHintTokens reads a login_hint_token as a JWT signed with a key the client registered (jwks or
// jwks_uri, asymmetric algorithms only), for this server (aud) and not expired (exp, required), carrying
// an RFC 9493 subject identifier (sub_id: email, phone_number, opaque, iss_sub). A HintResolver calls
// Verify and resolves the identifier through the same directory as a login_hint.
package ciba
