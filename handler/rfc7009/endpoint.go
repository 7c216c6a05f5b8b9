package rfc7009

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// ErrUnsupportedTokenType is the error of RFC 7009 §2.2.1: the server does not support the revocation
// of the presented token type. fosite v0.49.0 does not define it. Use it through its With* methods,
// which copy.
var ErrUnsupportedTokenType = &fosite.RFC6749Error{
	ErrorField:       "unsupported_token_type",
	DescriptionField: "The authorization server does not support the revocation of the presented token type.",
	CodeField:        http.StatusBadRequest,
}

// errNotYourToken is unauthorized_client for a token issued to another client (§2.1).
var errNotYourToken = &fosite.RFC6749Error{
	ErrorField:       fosite.ErrUnauthorizedClient.ErrorField,
	DescriptionField: "The token was issued to another client: a client may only revoke its own tokens.",
	CodeField:        http.StatusBadRequest,
}

// Endpoint is the token revocation endpoint (RFC 7009 §2) as an http.Handler. See the package
// documentation for the rules it applies. Set the fields before first use and do not change them
// afterwards; an Endpoint is safe for concurrent use.
type Endpoint struct {
	// Provider authenticates the client (AuthenticateClient, so fosite's ClientAuthenticationStrategy
	// applies) and revokes through the composed revocation handlers. Required.
	Provider *fosite.Fosite
}

// ServeHTTP answers a revocation request (RFC 7009 §2.1) with 200 and an empty body (§2.2) or an
// RFC 6749 §5.2 error (§2.2.1).
func (e *Endpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, client, err := rfc6749.ReadRequest(ctx, e.Provider, r)
	if err != nil {
		rfc6749.WriteError(ctx, e.Provider, rw, err)
		return
	}
	token := form.Get("token")
	if token == "" {
		rfc6749.WriteError(ctx, e.Provider, rw, fosite.ErrInvalidRequest.WithHint("The 'token' parameter is required."))
		return
	}
	// §2.1: the hint only orders the search; an unknown hint is ignored. fosite's handler looks for a
	// refresh token first unless the hint says access_token, and checks that the token was issued to
	// this client (unauthorized_client otherwise).
	hint := fosite.TokenType(form.Get("token_type_hint"))
	handled := false
	for _, h := range e.Provider.Config.GetRevocationHandlers(ctx) {
		err := h.RevokeToken(ctx, token, hint, client)
		switch {
		case err == nil:
			handled = true
		case errors.Is(err, fosite.ErrUnknownRequest):
		case errors.Is(err, fosite.ErrUnauthorizedClient):
			// fosite's description speaks of requesting tokens; say what happened.
			rfc6749.WriteError(ctx, e.Provider, rw, errNotYourToken.WithWrap(err))
			return
		default:
			rfc6749.WriteError(ctx, e.Provider, rw, err)
			return
		}
	}
	if !handled {
		rfc6749.WriteError(ctx, e.Provider, rw, ErrUnsupportedTokenType.WithHint("No revocation handler is configured for this token."))
		return
	}
	// §2.2: 200 whether the token was revoked now, before, or never existed ("an invalid token").
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Pragma", "no-cache")
	rw.WriteHeader(http.StatusOK)
}
