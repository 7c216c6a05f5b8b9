// Package rfc8628 implements the OAuth 2.0 Device Authorization Grant (RFC 8628) for fosite, with the
// extensions two real deployments need: a staffed kiosk that approves devices for its customers, and
// devices that show a PIN or QR code (or have one printed in the box).
//
// New builds the grant from fosite's configuration, the store, the token strategies and Options, and
// returns a Grant: fosite's token endpoint handler with the device authorization endpoint, the
// verification API, and the kiosk and alerts when configured. compose.NewDeviceGrant adapts New to
// fosite's compose.Factory, for fosite's compose.Compose or Hydra's extra factories:
//
//	device := compose.NewDeviceGrant(rfc8628.Options{
//		AuthorizationURL: "https://id.example.com/oauth2/device/auth",
//		VerificationURI:  "https://example.com/device",
//	})
//	provider := fcompose.Compose(config, store, strategy, ..., device.Factory)
//	mux.Handle("/oauth2/device/auth", device.Authorization)
//
// A device request is one pending grant (package pending) of kind KindDeviceCode, and the lifecycle
// there does the work every grant shares: issuing the codes, looking user codes up through the guessing
// limits, recording decisions once, answering polls, redeeming once. This package adds the wire format,
// the endpoints and what the device grant alone has: lifetimes per client, the kiosk, alerts, printed
// codes.
//
// # The grant
//
// A device POSTs to the DeviceAuthorizationEndpoint (RFC 8628 §3.1) and gets a device_code, a
// user_code, the verification URI and, for a QR code, verification_uri_complete (§3.2). The person
// opens the URI, signs in, and the application's page calls Verifier.Lookup, then Verifier.Approve
// or Verifier.Deny (§3.3). Meanwhile the device polls the token endpoint, where the TokenHandler
// answers authorization_pending, slow_down, access_denied or expired_token, or issues the tokens once
// (§3.4–3.5). A device code presented again after redemption revokes what it issued.
//
// Device codes are stored only as HMAC signatures and user codes only as keyed hashes; wrong user
// codes are counted (§5.1) by a pending.Limiter: per address and for all anonymous callers together,
// per account for signed-in ones, so that a flood from many addresses never stops a signed-in person
// who types the right code; a code that was already decided is refused without counting as a guess.
// Defaults: pending.DefaultUserCodeLimits (20 per address or account and 1000 in all per 15 minutes);
// Options.UserCodeLimits changes them.
//
// # Lifetimes
//
// A device code lives Options.CodeLifespan long (10 minutes by default), and expires_in says
// so. Per client, Options.ClientLifespans or a client implementing DeviceLifespanClient
// (DeviceClient is one) may set another lifetime and a pickup window: once approved, the device has
// the pickup window, counted from the approval, to redeem. Both are cut to MaxDeviceLifespan (a
// week), which is what the kiosk deployment needs: a week to reach a kiosk, then a week to bring the
// device back online.
//
// # Staffed kiosk
//
// The device may send the person's account identifier as login_hint. Kiosk is the staff API:
//
//	k := device.Kiosk // with Options.Kiosk set
//	list, err := k.Pending(ctx, staffSubject, "customer@example.com") // everything but the code
//	a, err := k.Approve(ctx, rfc8628.KioskDecision{
//		Actor: staffSubject, LoginHint: "customer@example.com", RequestID: list[0].RequestID,
//		UserCode: codeReadOutByTheCustomer,
//		Proofing: rfc8628.Proofing{Method: "passport", Reference: "…4711"},
//	})
//
// Staff-ness comes from a StaffDirectory and the customer's subject from Accounts, both the
// application's. The user code is stored only as a hash, so the listing cannot show it: the staff
// member types the code the customer reads off the device, and it must match a pending request of
// that very account (wrong codes are counted per staff member). The grant is bound to the customer's
// subject; the staff member is the Actor of the grant and of the audit event, and the ID token carries
// "act": {"sub": staff} (RFC 8693 §4.1) and "proofing_method". The proofing reference is personal data
// and goes only to the audit log. Deny needs no code: staff may refuse a request they see.
//
// A person names their account in more than one way. With Options.Kiosk, the device authorization
// endpoint resolves the login_hint through Accounts and files the request under the account's subject
// (Extra[ExtraLoginHint] keeps the hint as sent), and Pending resolves what staff type the same way: a
// request made as "alice", "alice@example.com" or "Alice@Example.com" is listed under any of them. A
// hint the directory does not know is filed as sent, and the device is told nothing either way.
//
// # Audit
//
// With an audit.Sink (Options.Audit, usually an *audit.Log) every approval, denial,
// redemption, expiry and revocation is an audit event whose RequestID is the grant's fosite request
// ID. Expiry is recorded when a poll first finds the grant expired, once (the store remembers it), and
// AuditExpired records the expiries no poll saw; run it before purging. A decision is stored before
// its event is recorded: if recording fails, the caller gets a server_error although the decision
// stands, and must treat that as an alarm.
//
// # Alerts after approval
//
// Anyone can request a user code and try to talk someone into approving it. So, as Google's note on
// rich-client devices suggests, an Alerter messages the user after each user-code approval: the
// client as it named itself, the scopes, the time, the device, and a one-click link that deactivates
// the grant and revokes every token it issued. The link is HMAC-SHA256 signed under a key derived
// from the global secret for this purpose only, names the request and the subject, expires (7 days by
// default) and works once (Alerter.Deactivate records it). With AlertOptions.Outbox the alert is queued
// in the approval's transaction and delivered by an outbox.Worker; otherwise it is sent directly
// and a failure comes back wrapping ErrAlertFailed with the approval standing.
//
// Verifier.LookupFor also reports RecentApprovals: how often this user approved the same client in
// the repeat window (24 hours by default). Show a warning when there are any, with
// Alerter.DeactivateFor to end the earlier grants.
//
// # Cross-device phishing
//
// Options.Policy applies RFC 10027's mitigations (see pending.Policy): by default one address may start
// 60 flows per 15 minutes (a refused request is 429 with Retry-After), and a user code looked up by a
// fourth signed-in account is burned — a code mailed to many people stops working for everyone and the
// device gets access_denied. Verifier.Lookup fills Authorization.Proximity (where the request came
// from, beside where the person is; with a Locator, the place), which the page should show; with
// Policy.RefuseAcrossNetworks an approval from another network is refused. Scope, token and code
// lifetime ceilings, trusted networks and key-bound clients are there to turn on. A deactivation link
// (and Alerter.DeactivateFor) flags the grant as reported; Grant.Flag does so for staff and operators:
// the grant ends, its tokens are revoked and Policy.Events is told.
//
// # Pre-printed codes
//
// A device without a display can have its user code printed in the box. The confidential client
// sends device_serial with its authenticated device authorization request, and the server derives
// the code as PrintedUserCode(key, format, client ID, serial): an HMAC mapped without bias onto the
// user-code alphabet. The factory holds the same per-client key (Options.PrintedCodeKeys)
// and prints the same code. The code is as long-lived as the device, but each request made with it
// lives only the normal lifetime, a new request from the same device replaces the previous one, and
// entering the code needs sign-in and consent and is attempt-limited like any user code. Because the
// code never changes, keep the global attempt limit low and the key secret: whoever has the key can
// compute every device's code.
package rfc8628
