// Package reciprocal implements Reciprocal OAuth (draft-ietf-oauth-reciprocal-04) for fosite, for both
// parties. The draft expired in 2020 and was never published as an RFC. Google's Linked Account Sign-In
// used it, so the wire format is fixed in practice.
//
// # The story
//
// A user links a voice assistant (party A) with a music service (party B). The assistant is an OAuth
// client of the music service and gets a token for the user with the authorization code grant. The
// music service also wants access to the assistant. Without the draft, that takes a second OAuth flow
// in the other direction, with the browser sent back and forth. With it, the music service says in its
// token response what it wants (`reciprocal`, §2.1). The assistant asks the user, mints an
// authorization code for the music service's client, and POSTs it to the music service's token
// endpoint together with the access token it just got (§2.2.2). That token tells the music service
// which user the code is for. The music service answers 200 and then redeems the code at the
// assistant's token endpoint, as any client would (RFC 6749 §4.1.3). Later, when the user changes what
// the music service may do, the assistant sends a new code the same way (§3).
//
// One fosite server composed with this package can play A, B, or both.
//
// # Party B: asking, and accepting codes
//
//   - ScopeHandler adds `reciprocal` to the authorization code grant's token response. It can also add
//     it to the authorization response (AuthorizationResponseScopeProvider). The scope of each client
//     comes from a ScopeSource. The default, ClientScopes, reads the client's metadata key
//     "reciprocal_scope" (clients of storage/sql have metadata) and otherwise looks the client up in a
//     map. It is a fosite handler that runs after fosite's own handlers; fosite's handlers are not
//     changed.
//   - GrantHandler serves grant_type urn:ietf:params:oauth:grant-type:reciprocal. fosite authenticates
//     the client first, with any method it supports. The handler then requires `code`, `client_id`
//     (which must name the authenticated client) and `access_token`. It checks that the access token is
//     active, has not expired by the handler's clock, was issued by this server to that same client,
//     and belongs to a user (a client_credentials token is refused). It looks up how to reach the
//     partner (Partners, e.g. PartnerMap: party A's token endpoint and party B's credentials there) and
//     redeems the code there with golang.org/x/oauth2, without a redirect_uri. Then it hands the token,
//     bound to the user of the access token, to a Receiver.
//   - Tokens is the default Receiver. It seals each token with Vault (AES-256-GCM; the key is derived
//     with HKDF-SHA256 from fosite's global secret, and rotated secrets still open older tokens) and
//     keeps one row per (partner, user) in a TokenStorage (storage/memory, storage/sql). A new grant
//     replaces the row. Party B reads the token back with Tokens.Token.
//   - TokenEndpoint goes in front of the application's token endpoint. The draft's answer is "200 OK",
//     which is not a token response (Google expects `{}`). fosite's NewAccessResponse refuses to answer
//     without an access token. So TokenEndpoint runs NewAccessRequest, which authenticates the client
//     and runs GrantHandler, and on success writes 200 `{}` itself (WriteAcknowledgement). Every other
//     grant type goes to the next handler unchanged. If NewAccessResponse is called on a reciprocal
//     request anyway, the handler answers server_error with a debug message that names TokenEndpoint.
//
// New builds both parties (Grant: the grant handler, the token store, party A's Issuer, party B's
// ScopeHandler); compose.NewReciprocalGrant adapts it to fosite's compose.Factory (its Factory, then
// its ScopeFactory after fosite's authorization code factories):
//
//	grant := compose.NewReciprocalGrant(reciprocal.Options{
//		Scopes:   map[string]string{"voice-assistant": "music.read"},
//		Partners: reciprocal.PartnerMap{"voice-assistant": {
//			TokenURL: "https://assistant.example/oauth2/token", ClientID: "music-service", ClientSecret: secret,
//		}},
//	})
//	provider := fcompose.Compose(config, store, strategy, ..., grant.Factory, grant.ScopeFactory)
//	mux.Handle("/oauth2/token", grant.TokenEndpoint(provider, appTokenEndpoint, newSession))
//
// # Its relation to the pending-grant lifecycle
//
// The device grant, CIBA and the OTP grant share one shape (package pending): the client asks, a
// pending grant waits for the user, the client polls or redeems it once. Reciprocal OAuth has none of
// that: nothing waits. Party A mints an ordinary authorization code (fosite's, stored by fosite's
// AuthorizeCodeStorage) and pushes it at once; party B redeems it at once with fosite's authorization
// code grant, at party A. So this package uses fosite's own code and token storage, not the
// pending-grant store, and its replay protection is fosite's authorization code replay protection.
//
// # Synchronous redemption
//
// Party B redeems the code before it answers. This matches what Google's Linked Account Sign-In
// expected. It needs no queue, and the answer tells party A the truth:
//
//   - 200 `{}`: the code was redeemed and the token kept.
//   - 400 invalid_grant: the access token is not valid, or party A's token endpoint refused the code
//     (4xx). The code is bad; nothing was kept.
//   - 503 temporarily_unavailable: party A's token endpoint could not be reached, timed out (the
//     OutboundTimeoutProvider bound, 10 seconds by default), answered 5xx or a redirect, or answered
//     something that is not a token response. Nothing was kept.
//   - 500 server_error: the token could not be stored.
//
// The outcome is never silent: either party A sees a failure and may send a new code, or the token is
// kept. A request repeated with the same code (party A lost the answer and retried) is recognised by a
// keyed hash of the code kept with the token. It is answered 200 again and nothing is redeemed twice.
//
// # Party A: granting access back
//
// Issuer.Send runs once the user has consented to the scopes party B asked for. It mints an
// authorization code with fosite's own strategy and storage (CreateAuthorizeCodeSession) for party B's
// client at party A. The code carries the consented scopes and the user's session and expires after
// CodeLifespanProvider (2 minutes by default). Send then POSTs the grant to party B's token endpoint:
// form-encoded, with HTTP Basic client authentication (RFC 6749 §2.3.1; the only method the issuer
// offers), within the timeout, without
// following redirects, and reading the answer through an io.LimitReader. Send succeeds only on 200. A
// refusal comes back as *PartnerError, and on any failure the code is invalidated. Grant.Replaces
// revokes the tokens of the previous grant once the new one is accepted (§3, a scope update).
// Issuer.Revoke revokes a grant's tokens at party A, so the token party B holds stops working.
//
// Party A keeps what it knows of each user's link with a partner in Links (a LinkStorage:
// storage/memory, storage/sql): party B's token, sealed with the Vault under a purpose of its own (a row
// of party B's TokenStorage does not open as a link, nor the reverse), the scope party B asked, and the
// request ID and scopes of the last grant it accepted (Offer.Replaces and Issuer.Revoke take it). So a
// link survives restarts and is shared by every instance.
//
// Party B redeems the code at party A's ordinary token endpoint (fosite's authorization code handler).
// That endpoint enforces the code's binding to party B's client, its single use, and its expiry.
//
// # Security considerations
//
// The draft has no such section. This package applies the following rules:
//
//   - The code is bound to party B's client at party A. It is single use, and a replay revokes the
//     tokens it issued (fosite's authorization code handler does both). It expires within minutes.
//     After a failed push it is invalidated.
//   - Party B accepts the grant only from an authenticated client (a public client is refused with
//     invalid_client, because fosite lets a public client name itself without credentials), and only
//     with an access token that is active, unexpired, issued to that same client, and bound to a
//     user. The user named by that token is the only user the new token is bound to, so one partner
//     cannot attach tokens to another partner's users.
//   - Outbound calls (the push and the redemption) use https, through the client of package
//     outbound: the address connected to must be public (loopback only when LoopbackHTTPProvider
//     allows it, for development; plain http only to loopback then). Redirects are not followed,
//     time is bounded, answers larger than MaxResponseBytes are an error, and there are no retries.
//     Credentials in URLs are refused.
//   - Party B keeps partner tokens sealed (AES-GCM), with the (partner, user) pair as authenticated
//     data, so a sealed token copied to another row does not open. Codes are kept only as keyed hashes.
//     Logs name clients, never codes or tokens.
//   - Revocation at party A ends party B's access, because party B's token is checked at party A.
//     Party B removes its copy with Tokens.Forget when the user unlinks the accounts.
//
// # Not covered
//
// The draft also allows `reciprocal` in implicit, password and client credentials token responses
// (§2.1). This package adds it to the authorization code grant only, where a user is present. It does
// not issue an ID token for the reciprocal code, and it does not refresh partner tokens for you:
// Tokens.Token returns the refresh token, if party A issued one, for use with golang.org/x/oauth2.
package reciprocal
