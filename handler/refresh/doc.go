// Package refresh is fosite's refresh token grant (RFC 6749 §6) with rotation that holds when the same
// refresh token is presented by several requests at once.
//
// # What fosite does
//
// fosite v0.49.0's oauth2.RefreshTokenGrantHandler rotates refresh tokens: each refresh stores a new
// access and refresh token and deactivates the old ones (RFC 6819 §5.2.2.3). Presenting a refresh token
// that is already inactive is reuse: the handler revokes every token of the grant (by its request ID)
// and answers invalid_grant, because the server cannot tell the legitimate client from a thief
// (RFC 9700 §4.14.2).
//
// It checks that the token is active when the request arrives and rotates it later, in
// PopulateTokenEndpointResponse, inside the store's transaction. Two requests with the same token can
// both pass the check. Whether both then get tokens is up to the store: fosite's interface leaves it
// open, and a store whose RotateRefreshToken merely revokes by request ID lets both through.
//
// # What this package adds
//
// A store that makes rotation one conditional step (deactivate the presented token only if it is still
// active, and fail with fosite.ErrInactiveToken when it is not) lets exactly one request through;
// storage/memory and storage/sql are such stores. fosite answers the others invalid_request ("please
// retry") because the store reported an inactive token or a serialization failure in
// PopulateTokenEndpointResponse. Handler wraps fosite's handler and answers them as what they are: a
// second use of a refresh token, so
//
//   - the request gets invalid_grant (RFC 6749 §5.2: the refresh token is "invalid, expired, revoked");
//   - every token of the grant is revoked, exactly as fosite does when the second use comes a little
//     later, including the tokens the winning request was just given.
//
// The second point makes the outcome independent of timing: whether a second request with the same
// refresh token arrives a microsecond or an hour after the first, the grant ends and the client has to
// ask the user again. It also keeps reuse detection working against a thief who wins the race: the
// legitimate client's losing request revokes what the thief got. A client that refreshes the same
// token from two threads at once therefore loses its grant; refresh from one place at a time.
//
// # Ceilings of cross-device grants
//
// fosite gives a refreshed grant's new tokens the server's access and refresh token lifespans. A grant
// issued under a pending.Ceiling (RFC 10027's short-lived tokens for cross-device flows) carries marks
// in its session (pending.CeilingIssuedAt), and Handler keeps the refreshed tokens to them
// (pending.KeepCeiling): the new access token lives no longer than the grant's first one did, and no
// token of the grant outlives its first refresh token, so rotation cannot extend the grant.
//
// # Use
//
// compose.RefreshTokenGrantFactory builds it (use it instead of fosite's
// compose.OAuth2RefreshTokenGrantFactory), or wrap a handler of your own with New. Handler serves the
// same requests and produces the same responses as fosite's otherwise.
package refresh
