package otp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/ory/fosite"
)

// AttemptsLeftParameter is the member of a token error response (RFC 6749 §5.2) by which
// WriteAccessError tells a client how many codes it may still try on the challenge after a wrong one:
// {"error":"invalid_grant","error_description":"… 4 attempts are left.","attempts_left":4}. It is an
// extension member, which clients that do not know it ignore (RFC 6749 §8.2); with it, a client
// reads a number instead of parsing the description, whose words may change.
const AttemptsLeftParameter = "attempts_left"

// wrongCode is the cause of the invalid_grant a wrong code gets: how many codes may still be tried.
type wrongCode struct{ left int }

func (w *wrongCode) Error() string { return "otp: the code is wrong" }

// AttemptsLeft reports how many codes may still be tried on the challenge when err is the
// invalid_grant of a wrong code (at least 1: the wrong code that uses the last attempt locks the
// challenge out instead), and false for any other error.
func AttemptsLeft(err error) (int, bool) {
	var w *wrongCode
	if errors.As(err, &w) {
		return w.left, true
	}
	return 0, false
}

// errWrongCode is the invalid_grant of a wrong code with left attempts left.
func errWrongCode(left int) *fosite.RFC6749Error {
	hint := "The code is wrong. 1 attempt is left."
	if left != 1 {
		hint = "The code is wrong. " + strconv.Itoa(left) + " attempts are left."
	}
	return fosite.ErrInvalidGrant.WithHint(hint).WithWrap(&wrongCode{left: left})
}

// WriteAccessError writes err as p.WriteAccessError does (RFC 6749 §5.2) and, when err is the
// invalid_grant of a wrong code, adds AttemptsLeftParameter to the JSON object. Call it in your token
// endpoint in place of p.WriteAccessError; for any other error it is p.WriteAccessError. cause is the
// error AttemptsLeft looks at (the one NewAccessRequest returned), err the one written (it may be a
// sanitized copy of cause).
func WriteAccessError(ctx context.Context, p fosite.OAuth2Provider, rw http.ResponseWriter, req fosite.AccessRequester, cause, err error) {
	left, ok := AttemptsLeft(cause)
	if !ok {
		p.WriteAccessError(ctx, rw, req, err)
		return
	}
	buf := &bufferedResponse{header: http.Header{}}
	p.WriteAccessError(ctx, buf, req, err)
	var body map[string]any
	if json.Unmarshal(buf.body.Bytes(), &body) != nil {
		p.WriteAccessError(ctx, rw, req, err) // not a JSON object: write it as it is
		return
	}
	body[AttemptsLeftParameter] = left
	out, mErr := json.Marshal(body)
	if mErr != nil {
		p.WriteAccessError(ctx, rw, req, err)
		return
	}
	for k, v := range buf.header {
		rw.Header()[k] = v
	}
	rw.WriteHeader(buf.status)
	_, _ = rw.Write(out)
}

// bufferedResponse keeps what fosite writes, so that a member can be added before it is sent.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
