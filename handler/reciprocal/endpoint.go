package reciprocal

import (
	"context"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// AccessRequester is what TokenEndpoint needs of fosite's provider (fosite.OAuth2Provider has both).
type AccessRequester interface {
	NewAccessRequest(ctx context.Context, r *http.Request, session fosite.Session) (fosite.AccessRequester, error)
	WriteAccessError(ctx context.Context, rw http.ResponseWriter, req fosite.AccessRequester, err error)
}

// TokenEndpoint is party B's token endpoint in front of the application's own. A request with
// grant_type urn:ietf:params:oauth:grant-type:reciprocal is served here: fosite's NewAccessRequest
// authenticates the client and runs GrantHandler, and on success TokenEndpoint answers 200 with `{}`
// (draft §2.2.2: "HTTP 200 (OK) response if the request is valid", which is not a token response;
// Google's Linked Account Sign-In expects `{}`). Errors are fosite's RFC 6749 §5.2 error responses.
// Every other request goes to Next unchanged, except that the form is checked and parsed first with
// rfc6749.CheckTokenRequest (whose errors are written here, as Next would write them).
type TokenEndpoint struct {
	Provider AccessRequester
	// NewSession returns the session fosite reads the presented access token into; it must be the session
	// type the server issues tokens with.
	NewSession func() fosite.Session
	Next       http.Handler
}

// ServeHTTP implements http.Handler.
func (e *TokenEndpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		e.Next.ServeHTTP(rw, r)
		return
	}
	if err := rfc6749.CheckTokenRequest(rw, r); err != nil {
		e.Provider.WriteAccessError(ctx, rw, nil, rfc6749.Sanitize(err))
		return
	}
	if r.PostForm.Get("grant_type") != string(GrantType) {
		e.Next.ServeHTTP(rw, r)
		return
	}
	req, err := e.Provider.NewAccessRequest(ctx, r, e.NewSession())
	if err != nil {
		rfc6749.SetErrorHeaders(rw, r, err)
		e.Provider.WriteAccessError(ctx, rw, req, rfc6749.Sanitize(err))
		return
	}
	WriteAcknowledgement(rw)
}

// WriteAcknowledgement writes party B's answer to a valid reciprocal grant request: 200 with an empty
// JSON object, not cached (RFC 6749 §5.1 headers).
func WriteAcknowledgement(rw http.ResponseWriter) {
	rfc6749.WriteJSON(rw, http.StatusOK, struct{}{})
}
