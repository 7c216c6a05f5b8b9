// Package secevent tells resource servers that a grant was found abused: a signed Security Event
// Token (RFC 8417) pushed to each configured receiver (RFC 8935) through the outbox. It is the
// "announce" half of RFC 10027's "detect and remediate": when a device, CIBA or OTP grant is
// flagged — its user code was burned by too many accounts, the person said "this wasn't me", staff or
// an administrator found it abused — the grant is ended and every token it issued revoked, and a
// Transmitter (a pending.SecurityEvents) lets the servers that accepted those tokens drop whatever
// they cached of them (introspection answers, sessions built on an access token).
//
//	tr, err := secevent.New(secevent.Options{
//		Issuer:    "https://id.example.com",
//		Key:       jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: setKey, KeyID: "set-2026"}},
//		Receivers: []secevent.Receiver{{
//			URL:         "https://api.example.com/.well-known/set",
//			Audience:    "https://api.example.com",
//			BearerToken: os.Getenv("API_SET_TOKEN"), // optional
//		}},
//		Queue: queue, // the *outbox.Queue the grants use
//	})
//	// then give tr to the grants' policy as their pending.SecurityEvents
//
// # What is sent
//
// One SET per receiver and flagged grant, in the transaction that ends the grant:
//
//	header  {"alg": "ES256", "kid": "set-2026", "typ": "secevent+jwt"}
//	claims  {
//	  "iss": "https://id.example.com",
//	  "jti": "2yiai7l222f5rnfjloxj7i5u7y",                      // 128 random bits, unique per SET
//	  "iat": 1796292000,                                        // when it was signed
//	  "aud": "https://api.example.com",                         // the receiver's Audience
//	  "toe": 1796291910,                                        // when the grant was flagged
//	  "sub_id": {"format": "iss_sub", "iss": "https://id.example.com", "sub": "alice"},
//	  "events": {"https://github.com/fosite-contrib/grants/event/grant/revoked": {
//	    "request_id": "0c6b8e1e-6d0f-4b8a-9a51-2f7f5c1e9d42",   // the grant's request ID
//	    "client_id": "tv-app",
//	    "kind": "device_code",                                  // device_code, ciba or otp
//	    "reason": "burned_code",                                // burned_code, reported, staff, administrator
//	    "tokens_revoked": true                                  // false: ended before any token was issued
//	  }}
//	}
//
// The subject is an RFC 9493 "iss_sub" identifier (absent when nobody had approved the grant): the
// "sub" the issuer's tokens carry, qualified by the issuer. There is no "sub" claim, so a SET can never
// pass for an ID token or a JWT access token (RFC 8417 Section 4). Nothing in it is secret: no access,
// refresh or ID token, no device code, user code, auth_req_id or OTP, no receiver credential. Who
// flagged the grant (Remediation.By: a staff member, an administrator) is not sent either: it is for the
// server's own audit log, not for every resource server.
//
// # Why an event type of our own
//
// The OpenID Shared Signals event types were considered first. CAEP's session-revoked
// (https://schemas.openid.net/secevent/caep/event-type/session-revoked) says that a session of the
// subject ended; a receiver acts on the subject it names, so with the user as subject it would end
// all of that user's sessions — not what happened: one grant, to one client, was ended — and CAEP
// has no way to name an OAuth grant as the session. RISC's events (account-disabled,
// credential-compromise, …) are about the account and its credentials, which were not compromised: the
// user was tricked into approving one request. The OAuth event-types draft's token-revoked names each
// token by its value or hash, which the server does not keep (it stores only HMAC signatures) and must
// not send. So this package defines EventGrantRevoked in the project's namespace, saying exactly what
// happened, and uses the standards for everything around it: the RFC 8417 envelope, the RFC 9493
// subject identifier, RFC 8935 delivery. A receiver acts on request_id where it knows it (the grant's
// request ID, which fosite records with every token), and otherwise on client_id and sub_id together:
// anything it cached for that client and user before toe.
//
// # Delivery
//
// Announce signs the SETs and queues them in the outbox with the caller's context (a
// SecurityEventMessage each): they commit or roll back with the transaction that ends the grant, and
// Announce never touches the network. The outbox worker delivers them (Worker.Kick after the commit
// delivers at once) with the outbox's Webhook, which follows RFC 8935 for them: a POST of the SET with
// "Content-Type: application/secevent+jwt" and "Accept: application/json", and "Authorization: Bearer
// …" when the receiver has a BearerToken (sealed at rest like every webhook credential).
//
//   - 202 Accepted is success (RFC 8935 Section 2.2); any other 2xx fails, since a receiver that
//     answers it is not one.
//   - 400 is the receiver's refusal (Section 2.3): it is not retried, and its "err" code
//     (invalid_key, invalid_audience, …) and description are kept in the outbox's attempt record.
//     401, 403, other 4xx and 3xx are not retried either.
//   - 408, 429, 5xx and network errors are retried with the outbox's backoff (5 s, doubling, at most
//     15 minutes; Retry-After up to an hour is honoured), up to 8 attempts.
//
// Delivery is at least once: a retried SET is the same token, so receivers deduplicate by jti (RFC
// 8935 Section 4). SETs to different receivers are independent; there is no ordering between them.
// Announcing the same grant again queues nothing new (the outbox message ID is derived from the
// request ID and the receiver) and returns nil.
//
// # Receivers and SSRF
//
// Receiver URLs are configured by the operator, but are still checked like every URL the server
// calls (package outbound): New refuses anything outbound.CheckURL refuses — not https, user info, a
// private, link-local or loopback IP literal, "localhost" — unless Options.AllowLoopback (development
// only: then loopback http is accepted too). At delivery the outbox's Webhook checks every address the
// host resolves to, so a name that resolves to a private or loopback address is refused there, and a
// refused address fails for good. The Webhook's own AllowLoopback must match.
//
// # Signing
//
// Options.Key is a go-jose SigningKey with an asymmetric algorithm (audit.DefaultAlgorithms: ES256,
// ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512); HMAC algorithms and "none" are
// refused, because anyone holding a shared key could forge revocations. For a key in a KMS or HSM
// wrap its crypto.Signer in a jose.OpaqueSigner. Publish the public key (with its "kid") in the
// server's JWKS, and tell receivers to verify "typ" (secevent+jwt), the signature against the issuer's
// JWKS, "iss" and "aud" before acting.
//
// # Limits
//
//   - MaxReceivers (32): every announcement signs and queues one SET per receiver in the caller's
//     transaction (an ES256 signature costs tens of microseconds, an RS256 one about a millisecond).
//   - MaxBearerTokenBytes (4096), and a BearerToken must be an RFC 6750 b64token.
//   - Receiver URLs and audiences up to 2048 bytes; request IDs up to 200 bytes.
package secevent
