package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// failure is a failed run told in one sentence: what happened and what to do about it. Code is the
// server's RFC 6749 §5.2 error code, when the server answered with one.
type failure struct {
	msg  string
	code string
	err  error
}

func (f *failure) Error() string {
	if f.code != "" {
		return f.msg + " (" + f.code + ")"
	}
	return f.msg
}

func (f *failure) Unwrap() error { return f.err }

// unreachable is the failure of a server that does not answer at all.
func unreachable(issuer string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &failure{err: err, msg: fmt.Sprintf("Cannot reach the server at %s: is it running? Start it with `go run ./example`, or pass -issuer with its address.", issuer)}
}

// isNetworkError reports whether err is a failure to talk to the server at all (refused, reset,
// unknown host, timeout), rather than an answer.
func isNetworkError(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}

// oauthErr is an RFC 6749 §5.2 error answer.
type oauthErr struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
	RetryAfter  string `json:"-"`
	// AttemptsLeft is the OTP grant's attempts_left after a wrong code (handler/otp's
	// AttemptsLeftParameter); nil when the answer has none.
	AttemptsLeft *int `json:"attempts_left"`
}

func (e *oauthErr) Error() string { return fmt.Sprintf("HTTP %d %s", e.Status, e.Code) }

// advice says, for each error code, what happened and what to do, in one sentence. %s is the
// client's name for the step ("the code", "the request").
var advice = map[string]string{
	"access_denied":            "The request was denied on the approval page, so nothing was granted; run the command again to ask once more.",
	"expired_token":            "The request expired before anyone approved it; run the command again to get a new one.",
	"invalid_client":           "The server did not accept this client's credentials; check -client-id and -client-secret (the demo secrets are in the README).",
	"unauthorized_client":      "This client is not allowed to use this grant or mode; check -client-id (and -mode).",
	"invalid_scope":            "The server refused the requested scopes; check -scope against what the client may ask for.",
	"invalid_request":          "The server refused the request as malformed; check the flags.",
	"invalid_grant":            "The server no longer knows this request (used already, or another client's); run the command again.",
	"unsupported_grant_type":   "The server does not support this grant at its token endpoint; check -issuer.",
	"unknown_user_id":          "The server knows no user by that -login-hint; check the spelling.",
	"expired_login_hint_token": "The login hint token has expired; get a new one.",
	"invalid_binding_message":  "The server refused the binding message; make -binding-message shorter and plainer.",
	"missing_user_code":        "The server requires a user code for this client; this demo client cannot send one.",
	"invalid_user_code":        "The server refused the user code.",
	"transaction_failed":       "The server could not complete the sign-in; try again.",
	"server_error":             "The server failed while answering; try again, and check its log if it keeps failing.",
	"temporarily_unavailable":  "The server is busy; try again in a minute.",
}

// explain turns an error answer into a failure sentence.
func explain(e *oauthErr) error {
	msg := advice[e.Code]
	switch {
	case e.Status == http.StatusTooManyRequests:
		msg = "The server refused: too many requests"
		if e.RetryAfter != "" {
			msg += "; try again in " + e.RetryAfter + " seconds."
		} else {
			msg += "; try again later."
		}
	case msg == "" && e.Code == "":
		msg = fmt.Sprintf("The server answered HTTP %d, which is not an OAuth answer; check -issuer.", e.Status)
	case msg == "":
		msg = "The server refused the request"
		if e.Description != "" {
			msg += ": " + strings.TrimSuffix(e.Description, ".")
		}
		msg += "."
	}
	return &failure{msg: msg, code: e.Code, err: e}
}

// clientAuth is how the client authenticates to the server (RFC 6749 §2.3.1).
type clientAuth struct {
	ID, Secret string
	// Post sends the secret in the body (client_secret_post); otherwise it goes in HTTP Basic.
	Post bool
}

// postForm POSTs form, authenticated as auth, and decodes a 200 JSON answer into out; any other
// answer is an *oauthErr, and a server that cannot be reached a *url.Error.
func postForm(ctx context.Context, client *http.Client, endpoint string, auth clientAuth, form url.Values, out any) error {
	form = cloneValues(form)
	switch {
	case auth.Secret == "":
		form.Set("client_id", auth.ID) // a public client names itself (RFC 6749 §3.2.1)
	case auth.Post:
		form.Set("client_id", auth.ID)
		form.Set("client_secret", auth.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth.Secret != "" && !auth.Post {
		req.SetBasicAuth(url.QueryEscape(auth.ID), url.QueryEscape(auth.Secret))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &oauthErr{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		_ = json.Unmarshal(body, e)
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &failure{msg: fmt.Sprintf("The server's answer at %s is not JSON; check -issuer.", endpoint), err: err}
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// describeFailure turns any error of a request to issuer into a failure sentence.
func describeFailure(issuer string, err error) error {
	var oe *oauthErr
	var f *failure
	switch {
	case err == nil:
		return nil
	case errors.As(err, &f):
		return err
	case errors.As(err, &oe):
		return explain(oe)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case isNetworkError(err):
		return unreachable(issuer, err)
	}
	return err
}
