package registration

import (
	"net/http"

	"github.com/ory/fosite"
)

// The error codes of RFC 7591 §3.2.2 and the one of RFC 6750 §3.1 this endpoint answers, each defined
// once with its HTTP status. Use them through their With* methods, which copy: never modify them in
// place.
var (
	// ErrInvalidRedirectURI: a redirect_uris value is invalid (RFC 7591 §3.2.2).
	ErrInvalidRedirectURI = &fosite.RFC6749Error{
		ErrorField:       "invalid_redirect_uri",
		DescriptionField: "The value of one or more redirection URIs is invalid.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrInvalidClientMetadata: a client metadata field is invalid, or the server's policy refuses it
	// (RFC 7591 §3.2.2).
	ErrInvalidClientMetadata = &fosite.RFC6749Error{
		ErrorField:       "invalid_client_metadata",
		DescriptionField: "The value of one of the client metadata fields is invalid and the server has rejected this request.",
		CodeField:        http.StatusBadRequest,
	}
	// ErrInvalidToken: the initial access token is missing, unknown or expired (RFC 7591 §3, RFC 6750
	// §3.1). HTTP 401 with a WWW-Authenticate: Bearer header.
	ErrInvalidToken = &fosite.RFC6749Error{
		ErrorField:       "invalid_token",
		DescriptionField: "The initial access token is missing, unknown or expired.",
		CodeField:        http.StatusUnauthorized,
	}
	// errInvalidRequest is the answer to a request that is not a JSON POST at all.
	errInvalidRequest = &fosite.RFC6749Error{
		ErrorField:       "invalid_request",
		DescriptionField: "The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.",
		CodeField:        http.StatusBadRequest,
	}
)

// metadataError returns ErrInvalidClientMetadata with a hint naming what is wrong.
func metadataError(format string, args ...any) *fosite.RFC6749Error {
	return ErrInvalidClientMetadata.WithHintf(format, args...)
}

// redirectError returns ErrInvalidRedirectURI with a hint naming what is wrong.
func redirectError(format string, args ...any) *fosite.RFC6749Error {
	return ErrInvalidRedirectURI.WithHintf(format, args...)
}
