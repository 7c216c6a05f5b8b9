package rfc6749

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ory/fosite"
)

// MaxFormBytes bounds the body of the endpoints this module serves. RFC 6749 requests are small; a
// larger body is refused before it is read.
const MaxFormBytes = 64 << 10

// ParseForm reads an RFC 6749 style request: POST, application/x-www-form-urlencoded, at most
// MaxFormBytes. Every parameter may appear at most once (RFC 6749 §3.1) and must be text (CheckText);
// a parameter sent empty counts as absent. Errors are invalid_request with a hint saying what was
// wrong.
func ParseForm(r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, fosite.ErrInvalidRequest.WithHintf("HTTP method is '%s', expected 'POST'.", r.Method)
	}
	if err := checkFormContentType(r); err != nil {
		return nil, err
	}
	r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fosite.ErrInvalidRequest.WithHintf("The request body is larger than %d bytes.", MaxFormBytes)
		}
		return nil, fosite.ErrInvalidRequest.WithHint("Unable to parse the request body.").WithWrap(err).WithDebug(err.Error())
	}
	form := url.Values{}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, fosite.ErrInvalidRequest.WithHintf("The parameter '%s' must not be included more than once.", k)
		}
		if v[0] != "" {
			form[k] = v
		}
	}
	if err := CheckText(form); err != nil {
		return nil, err
	}
	return form, nil
}

// CheckText refuses parameters that are not text: names or values that are not valid UTF-8 or that
// hold a NUL character. Such input cannot be meant, and it must not reach a store (PostgreSQL refuses
// both in text columns, SQLite keeps them): every store gives the same answer, invalid_request.
func CheckText(form url.Values) error {
	for k, vs := range form {
		if !isText(k) {
			return fosite.ErrInvalidRequest.WithHint("A parameter name is not valid UTF-8 text.")
		}
		for _, v := range vs {
			if !isText(v) {
				return fosite.ErrInvalidRequest.WithHintf("The parameter '%s' is not valid UTF-8 text.", k)
			}
		}
	}
	return nil
}

// IsText reports whether s is valid UTF-8 without NUL.
func IsText(s string) bool { return isText(s) }

func isText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// ClientAuthenticator authenticates the client of a request as the token endpoint does (RFC 6749 §2.3,
// §3.2.1). *fosite.Fosite implements it; pass the one fosite's compose returned.
type ClientAuthenticator interface {
	AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error)
}

// ErrorWriter writes an RFC 6749 §5.2 error response. *fosite.Fosite implements it (WriteAccessError),
// which keeps this module's errors in the same shape, language and debug policy as fosite's own.
type ErrorWriter interface {
	WriteAccessError(ctx context.Context, rw http.ResponseWriter, req fosite.AccessRequester, err error)
}

// AuthenticateClient authenticates the client with a. A client that names itself twice, in the
// Authorization header and in the body, must name the same client (RFC 6749 §2.3: a client MUST NOT use
// more than one authentication method in each request).
func AuthenticateClient(ctx context.Context, a ClientAuthenticator, r *http.Request, form url.Values) (fosite.Client, error) {
	if id, _, ok := r.BasicAuth(); ok {
		if bodyID := form.Get("client_id"); bodyID != "" {
			if unescaped, err := url.QueryUnescape(id); err == nil && unescaped != bodyID {
				return nil, fosite.ErrInvalidRequest.WithHint("The client_id in the body does not match the client in the Authorization header.")
			}
		}
	}
	client, err := a.AuthenticateClient(ctx, r, form)
	if err != nil {
		rfc := fosite.ErrorToRFC6749Error(err)
		if rfc.ErrorField == fosite.ErrServerError.ErrorField || rfc.ErrorField == fosite.ErrInvalidRequest.ErrorField || rfc.ErrorField == fosite.ErrInvalidClient.ErrorField ||
			rfc.CodeField == http.StatusTooManyRequests { // a failure limit (clientauth.Limiter): 429, not a failed authentication
			return nil, err
		}
		// Anything else fosite says about a failed authentication (a known jti, a misconfiguration) is,
		// to the client, a failed authentication.
		return nil, fosite.ErrInvalidClient.WithHint(rfc.GetDescription()).WithWrap(err).WithDebug(rfc.Debug())
	}
	return client, nil
}

// MaxTokenRequestBytes bounds the body of a token request checked by CheckTokenRequest.
const MaxTokenRequestBytes = 64 << 10

// CheckTokenRequest applies to fosite's token endpoint the input rules fosite v0.49.0 leaves out: a
// form body of bounded size, each parameter at most once (RFC 6749 §3.2). Call it before
// NewAccessRequest, which then reads the form it parsed; on error, write it with WriteAccessError.
func CheckTokenRequest(rw http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return fosite.ErrInvalidRequest.WithHintf("HTTP method is '%s', expected 'POST'.", r.Method)
	}
	if err := checkFormContentType(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(rw, r.Body, MaxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fosite.ErrInvalidRequest.WithHintf("The request body is larger than %d bytes.", MaxTokenRequestBytes)
		}
		return fosite.ErrInvalidRequest.WithHint("Unable to parse the request body.").WithWrap(err).WithDebug(err.Error())
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The parameter '%s' must not be included more than once.", k)
		}
	}
	return CheckText(r.PostForm)
}

func checkFormContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return fosite.ErrInvalidRequest.WithHint("The request body must be application/x-www-form-urlencoded.")
	}
	return nil
}

// SetErrorHeaders adds the headers an error response needs: WWW-Authenticate, which RFC 6749 §5.2
// requires when a client that tried HTTP Basic authentication is refused with 401 invalid_client, and
// Retry-After (RFC 9110 §10.2.3) when a 429 or 503 refusal carries a RetryAfter.
func SetErrorHeaders(rw http.ResponseWriter, r *http.Request, err error) {
	status := fosite.ErrorToRFC6749Error(err).CodeField
	if _, _, ok := r.BasicAuth(); ok && status == http.StatusUnauthorized {
		rw.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	var after RetryAfter
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && errors.As(err, &after) && after > 0 {
		rw.Header().Set("Retry-After", strconv.FormatInt(int64((time.Duration(after)+time.Second-1)/time.Second), 10))
	}
}

// RetryAfter is the cause of a refusal that may be retried after this long (a rate limit): wrap it
// into the error (WithWrap) and SetErrorHeaders sends it as Retry-After.
type RetryAfter time.Duration

// Error describes the wait.
func (r RetryAfter) Error() string { return "retry after " + time.Duration(r).String() }
