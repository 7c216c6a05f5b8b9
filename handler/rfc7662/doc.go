// Package rfc7662 is the OAuth 2.0 token introspection endpoint (RFC 7662) as an http.Handler over a
// fosite provider. fosite v0.49.0 has the lookup (IntrospectToken) but its request handler falls short
// of the RFC: it authenticates callers only with HTTP Basic or a bearer token, and it answers 200
// {"active":false} to wrong or missing credentials. This endpoint follows the RFC to the letter.
//
// # Use
//
//	mux.Handle("/oauth2/introspect", &rfc7662.Endpoint{
//		Provider:   provider,                                  // the *fosite.Fosite compose returned
//		NewSession: func() fosite.Session { return newSession() }, // the session type tokens are issued with
//		Allowed:    nil,                                       // nil: rfc7662.IssuedToOrFor
//	})
//
// Advertise it in the discovery document as introspection_endpoint, with
// introspection_endpoint_auth_methods_supported listing the methods your clients may register, other
// than "none": client_secret_basic, client_secret_post, private_key_jwt.
//
// # The request (§2.1)
//
//   - POST only, application/x-www-form-urlencoded, a body of at most 64 KiB, each parameter at most
//     once. Any other method answers 405 with an RFC 6749 §5.2 JSON error and Allow: POST; a repeated
//     parameter, another content type or a larger body answer 400 invalid_request.
//   - The caller authenticates as a client, with fosite's AuthenticateClient: every method fosite
//     supports and the client registered works (client_secret_basic, client_secret_post,
//     private_key_jwt), and the server's ClientAuthenticationStrategy applies (for example
//     clientauth.Limiter, which also refuses two methods in one request). A client_id in the body
//     beside HTTP Basic must name the same client.
//   - Wrong, missing or unusable credentials answer 401 invalid_client (§2.3, RFC 6749 §5.2) with a
//     Basic challenge in WWW-Authenticate. Public clients (token_endpoint_auth_method "none") are
//     refused the same way: they have no credentials, so anyone could claim their client_id and use the
//     endpoint to scan for tokens (§4). A bearer access token in the Authorization header, which §2.1
//     also allows, is not accepted as authorization: resource servers register as clients.
//   - token is required (400 invalid_request without it). token_type_hint "access_token" or
//     "refresh_token" says where to look first; the other kind is still searched, and any other value
//     is ignored.
//
// # The response (§2.2)
//
// 200 with Cache-Control: no-store. An active token the caller may see gets active, scope, client_id,
// username and sub (when the session has them), token_type ("bearer", or "DPoP" for a DPoP-bound
// token, RFC 9449 §6.2; for access tokens only: RFC 6749 §7.1 types access tokens), cnf with the jkt of
// the key a DPoP-bound access token, or a public client's DPoP-bound refresh token, is bound to (RFC
// 9449 §6.2, read with dpop.BoundTo), exp (of the token introspected, access or refresh; absent when it does
// not expire), iat (when the grant was made), aud (the granted audience), iss (fosite's
// AccessTokenIssuer, when set), jti and nbf (when the session keeps a JWT access token's claims), and
// the session's extra claims (fosite.ExtraClaimsSession) except those names. Anything else is
// {"active":false}: a token that is unknown, malformed, expired or revoked, and a token the caller may
// not see.
//
// # Who may see which token (§4)
//
// By default (IssuedToOrFor) a client may introspect the tokens issued to it and the tokens whose
// granted audience contains its client ID, so that a resource server registered as a client under the
// audience value it accepts can check the tokens meant for it, and nobody can learn about tokens meant
// for someone else. Set Endpoint.Allowed for another policy, for example a list of trusted resource
// servers that may introspect every token.
package rfc7662
