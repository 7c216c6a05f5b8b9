package rfc6749

// This file is the request and error plumbing of the API endpoints that authenticate a client the way
// the token endpoint does (RFC 6749 §2.3, §5.2) but are not the token endpoint: token introspection
// (RFC 7662) and revocation (RFC 7009). ReadRequest reads a POST form with each parameter at most once,
// authenticates the client through fosite (so every method the client registered works, and the
// server's ClientAuthenticationStrategy applies); WriteError writes errors as RFC 6749 §5.2 JSON
// whatever the method.

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ory/fosite"
)

// Authenticator authenticates clients and writes RFC 6749 errors. *fosite.Fosite implements it.
type Authenticator interface {
	ClientAuthenticator
	ErrorWriter
}

// ReadRequest reads an RFC 6749 style API request (POST, application/x-www-form-urlencoded, bounded,
// each parameter at most once: ParseForm) and authenticates its client. A request naming no
// client at all is refused with invalid_client (401): RFC 6749 §5.2 lists "no client authentication
// included" under invalid_client, and fosite would answer invalid_request.
func ReadRequest(ctx context.Context, a Authenticator, r *http.Request) (url.Values, fosite.Client, error) {
	if r.Method != http.MethodPost {
		return nil, nil, MethodNotAllowed(r.Method)
	}
	form, err := ParseForm(r)
	if err != nil {
		return nil, nil, err
	}
	if _, _, basic := r.BasicAuth(); !basic && form.Get("client_id") == "" && form.Get("client_assertion") == "" {
		return nil, nil, fosite.ErrInvalidClient.WithHint("Client authentication is required: HTTP Basic, client_id with client_secret in the body, or a client assertion.")
	}
	client, err := AuthenticateClient(ctx, a, r, form)
	if err != nil {
		return nil, nil, err
	}
	return form, client, nil
}

// MethodNotAllowed is invalid_request with HTTP status 405, for a request that is not a POST.
func MethodNotAllowed(method string) error {
	e := *fosite.ErrInvalidRequest.WithHintf("HTTP method is '%s', expected 'POST'.", method)
	e.CodeField = http.StatusMethodNotAllowed
	return &e
}

// WriteError writes err as RFC 6749 §5.2 JSON with w (fosite's WriteAccessError: same shape, language
// and debug policy as fosite's own errors). A 405 answer names the allowed method (RFC 9110 §15.5.6);
// a 401 answer carries a Basic challenge: RFC 6749 §5.2 requires one when the client tried HTTP Basic,
// and RFC 9110 §15.5.2 requires one in every 401.
func WriteError(ctx context.Context, w ErrorWriter, rw http.ResponseWriter, err error) {
	switch fosite.ErrorToRFC6749Error(err).CodeField {
	case http.StatusMethodNotAllowed:
		rw.Header().Set("Allow", http.MethodPost)
	case http.StatusUnauthorized:
		rw.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	w.WriteAccessError(ctx, rw, nil, err)
}
