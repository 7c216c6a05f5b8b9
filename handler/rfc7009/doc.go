// Package rfc7009 is the OAuth 2.0 token revocation endpoint (RFC 7009) as an http.Handler over a
// fosite provider. fosite v0.49.0 revokes tokens correctly (its TokenRevocationHandler) but its request
// handler accepts repeated parameters and a Basic client that differs from the body's client_id, and
// answers 401 without WWW-Authenticate. This endpoint applies the rules of RFC 7009 and RFC 6749 to the
// request and then calls the revocation handlers fosite composed.
//
// # Use
//
//	mux.Handle("/oauth2/revoke", &rfc7009.Endpoint{Provider: provider}) // the *fosite.Fosite compose returned
//
// Advertise it as revocation_endpoint, with revocation_endpoint_auth_methods_supported listing
// client_secret_basic, client_secret_post, private_key_jwt and none, as your clients may register.
//
// # The request (§2.1)
//
//   - POST only, application/x-www-form-urlencoded, a body of at most 64 KiB, each parameter at most
//     once. Any other method answers 405 with an RFC 6749 §5.2 JSON error and Allow: POST; a repeated
//     parameter, another content type or a larger body answer 400 invalid_request.
//   - The client authenticates with fosite's AuthenticateClient, so every method it registered works
//     and the server's ClientAuthenticationStrategy applies (for example clientauth.Limiter). A public
//     client identifies itself with client_id alone: §2.1 asks for credentials only of confidential
//     clients, and a public client may only revoke its own tokens. A client_id in the body beside HTTP
//     Basic must name the same client. No client, or wrong credentials, answer 401 invalid_client with
//     a Basic challenge in WWW-Authenticate.
//   - token is required (400 invalid_request without it). token_type_hint "access_token" makes the
//     search start with access tokens, otherwise refresh tokens come first; the other kind is still
//     searched and any other value is ignored.
//
// # The response (§2.2)
//
//   - 200 with an empty body when the token was revoked, was revoked before, or is not a token of this
//     server at all ("invalid tokens do not cause an error response"). Revoking a refresh token also
//     revokes the access tokens of its grant, and revoking an access token revokes the refresh token of
//     its grant (fosite's TokenRevocationHandler).
//   - 400 unauthorized_client when the token was issued to another client: a client may only revoke its
//     own tokens (§2.1).
//   - 400 unsupported_token_type when no composed revocation handler takes the token (§2.2.1).
//   - 503 temporarily_unavailable when the store failed: the client must assume the token still exists.
package rfc7009
