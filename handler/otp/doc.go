// Package otp is a one-time-passcode grant: a trusted client (a kiosk, a call-centre tool, a first-party
// app) asks for access to a person's account knowing only a non-secret identifier, the authorization
// server sends the person a short code over a channel they already own (a text message, an e-mail, a
// call), the person types the code into the client, and the client trades it for tokens.
//
// The story it was made for: a utility customer at a hardware-store kiosk wants the kiosk to read their
// energy use. They type their service address; the kiosk offers "text to ***-***-1234" or "e-mail to
// h***@e***.com"; they pick one, read the code on their phone, type it; the kiosk gets a token for what
// the message described, and nothing more. The server never shows the client a phone number or an
// address, and the cost of the user interface is on the client.
//
// # Protocol
//
// The grant follows the out-of-band shape of Auth0's MFA API and Okta's direct authentication
// (oob_code, binding_method "prompt", binding_code), and the naming of OpenID CIBA and
// draft-ietf-oauth-first-party-apps (login_hint, channel_hint). It negotiates the channel in the open:
// the first step always answers 200 with the list of channels (one style, chosen over the draft's
// "insufficient_authorization" error with a channel list, because choosing a channel is the normal case
// here, not an error).
//
// Challenge endpoint, POST, application/x-www-form-urlencoded, the client authenticating exactly as at
// the token endpoint (Basic, client_secret_post, private_key_jwt). Only confidential clients that hold
// the grant type may use it (the grant type in the client's grant_types is the per-client switch). It is
// published in discovery as "otp_challenge_endpoint" (ChallengeEndpointMetadata).
//
// Step 1, identify: login_hint (the identifier), scope, optionally audience, ui_locales:
//
//	HTTP/1.1 200 OK
//	{"oob_code":"…","expires_in":300,
//	 "channels":[{"id":"sms-1","type":"sms","destination":"***-***-4567"},
//	             {"id":"email-1","type":"email","destination":"a***@e***.com"}]}
//
// Step 2, send: oob_code and channel (an id from step 1, or a bare type meaning its first channel):
//
//	HTTP/1.1 200 OK
//	{"oob_code":"…","expires_in":287,"channel":"sms-1","binding_method":"prompt","interval":30}
//
// Step 2 again sends a new code, which replaces the old one, once interval seconds have passed
// (slow_down before). Sending channel_hint with login_hint does both steps in one call.
//
// Token request, at the token endpoint, the client authenticating:
//
//	grant_type=https://github.com/fosite-contrib/grants/grant-type/otp&oob_code=…&binding_code=123456
//
// The grant type is an absolute URI in this project's namespace (RFC 6749 §4.5), DefaultGrantType; it is
// configurable (GrantTypeProvider) and listed in grant_types_supported. The answer is a normal token
// response: an access token; a refresh token when a refresh scope was asked for and the client may
// refresh; an ID token when openid was asked for (auth_time and amr "otp", plus "sms" for a texted code).
// The scopes granted are the scopes the message described: the person consents by typing the code.
//
// # Errors
//
//   - invalid_request: a missing, repeated or misplaced parameter, an unknown channel;
//   - invalid_client (401), unauthorized_client (a public client, or one without the grant type);
//   - invalid_scope: a scope the client may not ask for;
//   - invalid_grant: a wrong code ("N attempts are left"), a used code, another client's oob_code, and a
//     challenge that died after MaxAttempts wrong codes (default 5; a new challenge is needed);
//   - expired_token: the challenge (default lifetime 5 minutes) has expired;
//   - slow_down: a send less than interval seconds after the previous one;
//   - temporarily_unavailable with HTTP 429 and Retry-After: a send quota is used up.
//
// # Threat model
//
// Assets: the person's account and the tokens; the person's contact details; the person's phone bill
// and patience. Adversaries: someone at the kiosk who knows the victim's identifier (an address is
// public); a script with a valid client's credentials; someone who can read the database; a network
// observer between client and server (TLS is assumed).
//
//   - Guessing the code. A code is 6 to 8 digits (CodeLengthProvider), drawn with crypto/rand without
//     bias (pending.UserCodeFormat.Generate). Six digits are 10^6 ≈ 2^19.9 values: each challenge allows
//     MaxAttempts tries, counted in the store before the comparison (so concurrent guesses cannot exceed
//     it), then dies. Only the latest code of a challenge is valid. An attacker's chance per challenge is
//     MaxAttempts/10^6 (5 in a million by default); challenges that receive codes are bounded by the
//     per-identifier quota, so per window the chance against one person is at most
//     PerIdentifier × MaxAttempts / 10^6 (25 in a million by default). Use 8 digits to cut it 100-fold.
//   - Stealing codes from storage. Codes are stored only as an HMAC-SHA256 under a key derived from the
//     global secret, over the challenge's handle signature and the code, so that a code is bound to its
//     challenge; they are compared in constant time. oob_codes are fosite HMAC tokens stored by signature.
//     Codes never appear in logs, errors or audit events.
//   - Enumerating accounts. An identifier that names nobody gets a decoy challenge: same status, same
//     JSON shape, same work (a directory lookup, keyed hashes, a stored challenge), with masked channels
//     derived from a keyed hash of the identifier, so that asking twice shows the same "destinations". Its
//     sends are counted against the same quotas and the same interval, render the same message and go
//     nowhere; its codes never redeem and it locks out like a real one. Codes are delivered after the
//     answer (ChallengeEndpoint.Flush waits for them), so the Sender's latency, which only a real send
//     has, is not in the answer's timing; a failed delivery is logged and audited, never answered.
//   - Masking. Clients see destinations only through the MaskPolicy (DefaultMask: the last four digits, the
//     first letters of an address); destinations are looked up again at send time and never stored.
//   - Message pumping (SMS toll fraud) and harassment. Sends are limited per identifier, per client and
//     per client network address, and new challenges per address (Quotas), in fixed windows counted in
//     the store so that the limits hold across server instances. A quota answer is 429 with Retry-After
//     (the window length: an upper bound). A busy attacker can exhaust one identifier's quota for a
//     window: that is the price of protecting the phone behind it.
//   - Linking identifiers. A person has several identifiers (an address, an account number, a phone
//     number), and a visible per-person limit would be an oracle: use up the quota through one
//     identifier, and a 429 through another says both are that person's, while an identifier of
//     somebody else still answers 200. So the visible limits count what the client can see — the
//     identifier as typed (normalised), the client, its address — and answer the same whatever the
//     identifier names; the per-person limit (Quotas.PerPerson, above PerIdentifier) is silent: over
//     it the send is answered exactly as any other (status, headers, body and, since delivery follows
//     the answer, timing), the code is stored and can be tried, but nothing is sent, and the audit
//     trail records the send as suppressed. A person who meets that limit sees no message and tries
//     again later, as after a lost text; an attacker sees nothing at all. Together: per identifier at
//     most PerIdentifier sends are visible, per person at most PerPerson messages go out.
//   - Phishing the code. The message names the client, says in plain language what it will be allowed to
//     do, gives the expiry, and tells the person never to share the code.
//   - Stolen client credentials. The grant is for confidential, first-party clients only; the oob_code is
//     bound to the client that started the challenge; a replayed oob_code revokes what it issued.
//   - Auditing. Every send (with channel, masked destination, whether delivered, whether a decoy or
//     suppressed), every redemption, replay and lockout, every policy refusal and flag is an audit event
//     (audit.Sink; nil records nothing).
//   - Cross-device phishing (RFC 10027). Options.Policy applies the pending-grant policies: trusted
//     networks and key-bound clients, scope, token and challenge-lifetime ceilings, and Grant.Flag for a
//     challenge found abused (its tokens revoked, security event receivers told).
//
// # Use
//
// New builds the grant from fosite's configuration, the store, the token strategies and Options;
// compose.NewOTPGrant adapts it to fosite's compose.Factory:
//
//	grant := compose.NewOTPGrant(otp.Options{
//		ChallengeURL: issuer + "/oauth2/otp",
//		Directory:    myDirectory,   // otp.Directory over your customer records
//		Sender:       notify.Mux{notify.SMS: sms, notify.Email: mailer},
//		Scopes:       otp.ScopeText{"usage:read": "See your energy use"},
//		Audit:        auditLog,
//	})
//	provider := fcompose.Compose(config, store, strategy, ..., grant.Factory)
//	mux.Handle("/oauth2/otp", grant.Challenge)
//
// A challenge is one pending grant (package pending) of kind KindOTP, with the lifecycle every grant
// shares: Start stores it, the token request loads it and gets the one state-to-answer mapping
// (expired_token, a locked-out challenge, a replayed oob_code that revokes what it issued), and
// Redeem issues the tokens once. What is the OTP grant's own: the code is not a user code the person
// types at the server but one the server sends (Grant.CodeSentAt, Grant.ResendInterval), and a right
// code approves the challenge at the token endpoint itself.
//
// The store must implement Storage (pending grants, attempt counters and ChallengeStorage); the memory
// and SQL stores of this module do. Messages come from notify.Templates: the defaults are embedded
// (DefaultTemplates, English and German), chosen by the request's ui_locales or the account's Locale;
// put your own layer in front to change them.
package otp
