// Package dpop sender-constrains the tokens of every grant a fosite server issues with DPoP (OAuth
// 2.0 Demonstrating Proof of Possession, RFC 9449): a client that signs each request with a key it
// keeps gets tokens bound to that key, so that a stolen device code, auth_req_id, one-time code, refresh
// or access token is of no use without the key.
//
// # The parts
//
//   - Verifier checks a proof against the request it came with (RFC 9449 §4.3) and keeps it single-use.
//   - Handler is a fosite token endpoint handler that checks the proof of every token request, binds
//     the tokens to its key, and answers token_type DPoP (§5), whatever the grant: the device code,
//     CIBA, OTP and reciprocal grants of this module, the refresh token grant, and fosite's own.
//   - Session, OpenIDSession, Bind and BoundTo record the binding in the session fosite stores with the
//     tokens; handler/rfc7662 reports it as cnf.jkt (§6.2).
//   - Verifier.CheckResource and WriteResourceError are the resource server's side (§7).
//   - Prover and its Transport are a Go client's side.
//
// compose.NewDPoP composes the Handler (its Factory) and holds the Verifier for the other endpoints
// that take proofs: the CIBA backchannel endpoint (ciba.Options.DPoP) and protected resources.
//
// # Proofs (§4.3)
//
// A proof is the DPoP request header, exactly one. It must be a compact JWS of at most MaxProofLength
// (8 KiB) with typ "dpop+jwt"; an alg from Options.Algorithms (default DefaultAlgorithms: ES256, ES384,
// ES512, PS256, PS384, PS512, RS256, RS384, RS512, EdDSA), never "none" nor a MAC; a jwk that is a public
// key fitting the alg (RSA of at least 2048 bits, the alg's curve, Ed25519 for EdDSA) — a jwk with a
// private or symmetric member is refused; a signature that verifies with that key (go-jose does the
// cryptography); and the claims jti (at most 256 bytes), htm, htu (at most 2048 bytes) and iat.
//
//   - htm must be the request's method; htu, without query and fragment and normalised (scheme and
//     host in lower case, default port dropped, percent-encodings normalised, dot segments removed),
//     must name the endpoint's configured URL (fosite.Config.TokenURL at the token endpoint): the Host
//     header, which the client chooses, is never trusted.
//   - iat may be at most Options.MaxAge (default 1 minute) old and Options.MaxSkew (default 30 seconds)
//     in the future, on the injected clock (Options.Now).
//   - With Options.RequireNonce (off by default), every proof must carry a nonce the server issued
//     (§8); otherwise the answer is use_dpop_nonce with a fresh nonce in the DPoP-Nonce header, which
//     real clients retry with. The default nonces (HMACNonces) are stateless: a time and an
//     HMAC-SHA-256 of it under a key derived from fosite's global secret, accepted by every instance for
//     NonceLifetime (default 5 minutes). A proof with a valid nonce is judged by the nonce's age instead
//     of its iat, so a device with a wrong clock still gets in.
//   - The jti is recorded, with the key's thumbprint, in a ReplayStorage until the proof would expire:
//     pending.IndexStorage's UseOnce, which the memory and SQL stores implement (the SQL store's table
//     is shared by every instance and purged with the rest). A proof is accepted once, ever.
//
// Every refusal is invalid_dpop_proof (400, RFC 6749 §5.2 JSON at the token endpoint) whose description
// says what is wrong, or use_dpop_nonce. Call SetNonceHeader before writing a token endpoint's error:
// fosite's writer sets no headers.
//
// # The token endpoint (§5)
//
// The Handler looks at the session the grant handlers prepared, which is the session their stores keep
// with the tokens:
//
//   - a request with a valid proof gets its tokens bound to the proof's key (the thumbprint goes into
//     the session, and into cnf.jkt of a JWT access token's claims) and token_type DPoP;
//   - a session already bound — by a public client's refresh token (§5: such refresh tokens are bound
//     too), or by a CIBA request bound at the backchannel endpoint — requires a proof by the same key:
//     none, or another, is invalid_dpop_proof;
//   - a confidential client's refresh token is bound to the client's credentials instead (§5), so its
//     refresh may bind the new tokens to a new key, or, without a proof, get bearer tokens;
//   - a client registered with dpop_bound_access_tokens (§5.2; handler/registration keeps it, and so
//     does the SQL store's client metadata) must send a proof with every token request;
//   - a request without a proof otherwise gets bearer tokens, as before.
//
// A refused request changes nothing that matters to the client: the device code, auth_req_id or
// one-time code stays redeemable, the refresh token stays valid.
//
// The session type must carry the binding: OpenIDSession (fosite's openid.DefaultSession plus the
// thumbprint, which reads sessions stored before it), any type implementing Session, or a JWT session
// (oauth2.JWTSessionContainer with *jwt.JWTClaims, whose cnf claim holds it). Use it everywhere the
// server creates sessions: the token endpoint's NewAccessRequest and every decision that stores one.
// A proof sent to a server whose session cannot carry a binding is server_error, not an unbound token.
//
// # Where the Handler goes
//
// fosite runs every handler's HandleTokenEndpointRequest, then every handler's
// PopulateTokenEndpointResponse, each in composition order, and the grant handlers replace the
// request's session with the grant's during the first pass and store it and set token_type "bearer"
// during the second. So the Handler must come after every other handler: there it sees the session that
// will be stored, and has the last word on token_type. compose.Compose puts it there whatever the
// position of its factory in the list (after its own unsupported_grant_type handler, which ignores it);
// with fosite's compose.Compose, list its factory last. Misplaced — a handler that serves the request
// comes after it — it refuses every such request with server_error rather than issue unbound tokens.
//
// One consequence: the proof is checked after the grant handler has judged the request, so a pending
// device code or auth_req_id answers authorization_pending or slow_down whatever the proof, and the
// proof is judged when the grant is redeemed. The reciprocal grant (handler/reciprocal) does all of its
// work in that first pass: a reciprocal grant request with a bad proof is refused after party B has
// redeemed party A's code and kept the token (A's retry with a good proof is then recognised and
// answered 200). That grant issues nothing to the caller, so nothing is bound by it.
//
// # Protected resources (§7)
//
// A resource reads the access token and its scheme (AccessToken), finds what the token is bound to
// (BoundTo of its session, e.g. after fosite's IntrospectToken, or cnf.jkt of a JWT or an introspection
// response), and calls Verifier.CheckResource: with the DPoP scheme the token must be bound and the
// request must carry a proof for this method and URL, with ath the token's hash, made with the bound
// key; with the Bearer scheme the token must not be bound (§7.2: a DPoP-bound token presented as a
// bearer token is refused). WriteResourceError answers 401 with a DPoP challenge (error, description,
// algs) and the DPoP-Nonce header when a nonce is required.
package dpop
