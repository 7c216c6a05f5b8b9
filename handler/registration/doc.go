// Package registration is OAuth 2.0 Dynamic Client Registration (RFC 7591) for this module's grants:
// devices and CIBA clients register themselves, typically with private_key_jwt, and then authenticate
// at the device authorization, backchannel and token endpoints with signed client assertions.
//
// # The endpoint
//
// Endpoint is an http.Handler. Mount it at the URL you publish as registration_endpoint (RFC 8414 §2;
// compose does this when Config.Registration.URL is set). A client POSTs its metadata as JSON with an
// initial access token (RFC 7591 §3) as a Bearer credential:
//
//	POST /oauth2/register
//	Authorization: Bearer <initial access token>
//	Content-Type: application/json
//
//	{"client_name": "Kiosk phone",
//	 "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
//	 "token_endpoint_auth_method": "private_key_jwt",
//	 "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "...", "y": "..."}]},
//	 "scope": "openid offline_access"}
//
// and gets 201 with a random client_id (144 bits), client_id_issued_at and all its registered
// metadata, defaults filled in (RFC 7591 §3.2.1). Clients of client_secret_basic and client_secret_post
// also get a client_secret (256 bits, client_secret_expires_at 0), shown once: the store keeps only the
// hash made by fosite's configured hasher. The stored client is a *Client, a
// fosite.DefaultOpenIDConnectClient, so fosite authenticates it with the method it registered.
//
// # Initial access tokens
//
// Tokens decides who may register: NewStaticTokens holds a fixed set (as SHA-256 digests, compared in
// constant time), TokenVerifierFunc plugs in your own check. A missing or wrong token gets 401
// invalid_token with WWW-Authenticate: Bearer; with a Limiter, a caller that sends too many wrong
// tokens gets 429 until the window passes, whatever token it sends.
//
// # What is checked
//
// Policy.Parse validates the metadata (RFC 7591 §2 and §2.1, OpenID CIBA Core §4) against a Policy:
//
//   - grant_types from the policy's list; response_types consistent with them (code needs
//     authorization_code, token needs implicit, and back);
//   - redirect_uris required for authorization_code and implicit and refused otherwise; each absolute,
//     without fragment, https, http on a loopback IP, or a private-use scheme (RFC 8252 §7);
//   - token_endpoint_auth_method: private_key_jwt, client_secret_basic, client_secret_post or none
//     (none never with client_credentials or CIBA);
//   - jwks_uri and backchannel_client_notification_endpoint: https, and no IP literal the server must
//     not call (loopback, private, link-local incl. 169.254.169.254, reserved) nor localhost, checked
//     with outbound.CheckURL; a DNS name cannot be judged at registration, so the server's outbound
//     client refuses it when it connects, if it resolves to such an address;
//   - jwks or jwks_uri, never both, one of them for private_key_jwt; inline keys parsed with go-jose,
//     public only (a key with private or symmetric members is refused), RSA of at least 2048 bits or
//     EC on P-256/384/521, use "sig" (set when absent, as fosite needs it);
//   - token_endpoint_auth_signing_alg: RS, PS or ES, never none or HMAC, and fitting a registered key;
//     by default the algorithm of the first key;
//   - scope: values from the policy; none means all of them;
//   - CIBA: backchannel_token_delivery_mode (poll, ping, push) required for CIBA clients;
//     backchannel_client_notification_endpoint required for ping and push and https (Policy.
//     AllowLoopbackHTTP admits loopback, over http too, for development);
//     backchannel_authentication_request_signing_alg asymmetric; backchannel_user_code_parameter only
//     when Policy.BackchannelUserCodeParameter says the server checks user codes;
//   - dpop_bound_access_tokens (RFC 9449 §5.2): a boolean; true makes every token request of the
//     client carry a DPoP proof (package dpop enforces it), and is kept in the client's Metadata;
//   - client_name, software_id, software_version, contacts: bounded, no control characters.
//
// Unknown fields are ignored (RFC 7591 §2), and so are software statements, which this package does not
// support. Policy.Extensions adds fields: each named field is checked by its ExtensionValidator and
// stored in the client's Metadata, e.g. the device grant's per-client lifetimes
// (FieldDeviceCodeLifespan with DurationSeconds) or CIBA's backchannel_enrollment_fallback (Boolean;
// compose's default policy has these three). Errors are 400 invalid_redirect_uri or
// invalid_client_metadata with a description naming the field (RFC 7591 §3.2.2); nothing is stored.
//
// # Storage
//
// Storage needs CreateClient. The memory store and the SQL store of this module have it; the SQL store
// keeps the Metadata map and returns it through its own client type's GetMetadata.
//
// # Reading a registration (RFC 7592)
//
// With Endpoint.URL set, each registration also returns a registration_access_token (256 bits, stored
// as its SHA-256 digest) and a registration_client_uri, URL/<client_id>. Mount the endpoint there too:
// a GET with the token as a Bearer credential returns the client's current registration (without its
// secret, which is stored only as a hash). An unknown client and a wrong token get the same 401, and
// wrong tokens count against the caller's address in Limiter. Updating and deleting (RFC 7592 §2.2,
// §2.3) are not implemented.
package registration
