package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

// secretFormFields are removed from a request's form before it is stored: credentials and the
// single-use values a token request carries. Everything else stays, because fosite reads it back
// (redirect_uri, nonce, code_challenge, ...).
var secretFormFields = []string{
	"client_secret", "client_assertion", "password",
	"code", "code_verifier", "refresh_token", "device_code", "auth_req_id", "otp",
}

// requestColumns are the columns every stored fosite request has, in the order encodedRequest.args
// and scanRequest use.
const requestColumns = "request_id, requested_at, client_id, requested_scopes, granted_scopes, requested_audience, granted_audience, form, session_data"

// encodedRequest is a fosite.Requester as the schema stores it (the way Hydra does: the client by ID,
// lists as JSON, the form URL-encoded without secrets, the session as JSON).
type encodedRequest struct {
	id                string
	requestedAt       sql.NullInt64
	clientID          string
	requestedScopes   string
	grantedScopes     string
	requestedAudience string
	grantedAudience   string
	form              string
	session           string
	subject           string
}

func (e *encodedRequest) args() []any {
	return []any{e.id, e.requestedAt, e.clientID, e.requestedScopes, e.grantedScopes, e.requestedAudience, e.grantedAudience, e.form, e.session}
}

func encodeRequest(r fosite.Requester) (*encodedRequest, error) {
	if r == nil {
		return nil, fmt.Errorf("sqlstore: no request to store")
	}
	if r.GetClient() == nil {
		return nil, fmt.Errorf("sqlstore: request %q has no client", r.GetID())
	}
	e := &encodedRequest{
		id:                r.GetID(),
		requestedAt:       nanos(r.GetRequestedAt()),
		clientID:          r.GetClient().GetID(),
		requestedScopes:   jsonList(r.GetRequestedScopes()),
		grantedScopes:     jsonList(r.GetGrantedScopes()),
		requestedAudience: jsonList(r.GetRequestedAudience()),
		grantedAudience:   jsonList(r.GetGrantedAudience()),
		form:              sanitizeForm(r.GetRequestForm()).Encode(),
		session:           "null",
	}
	if !e.requestedAt.Valid {
		e.requestedAt.Valid = true // requested_at is NOT NULL; the zero time is stored as 0
	}
	if sess := r.GetSession(); sess != nil {
		b, err := json.Marshal(sess)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: encode session of request %q: %w", r.GetID(), err)
		}
		e.session = string(b)
		e.subject = sess.GetSubject()
	}
	return e, nil
}

func sanitizeForm(form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	for _, k := range secretFormFields {
		delete(out, k)
	}
	return out
}

func jsonList(a []string) string {
	if len(a) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(a) // a []string always marshals
	return string(b)
}

func parseList(s string) ([]string, error) {
	var a []string
	if s == "" {
		return a, nil
	}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, err
	}
	return a, nil
}

// scannedRequest receives the request columns of a row.
type scannedRequest struct {
	encodedRequest
}

// dest returns the scan destinations matching requestColumns.
func (r *scannedRequest) dest() []any {
	return []any{&r.id, &r.requestedAt, &r.clientID, &r.requestedScopes, &r.grantedScopes, &r.requestedAudience, &r.grantedAudience, &r.form, &r.session}
}

// decode rebuilds the request: the client is loaded by ID (in the same transaction, if any), and the
// stored session is unmarshalled into session, the value the caller passed, as fosite expects. When
// session is nil, or nothing was stored, the request has no session.
func (s *Store) decodeRequest(ctx context.Context, r *scannedRequest, session fosite.Session) (*fosite.Request, error) {
	client, err := s.GetClient(ctx, r.clientID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: load client %q of request %q: %w", r.clientID, r.id, err)
	}
	req := &fosite.Request{
		ID:          r.id,
		RequestedAt: fromNanos(r.requestedAt),
		Client:      client,
	}
	for _, f := range []struct {
		dst *fosite.Arguments
		src string
	}{
		{&req.RequestedScope, r.requestedScopes},
		{&req.GrantedScope, r.grantedScopes},
		{&req.RequestedAudience, r.requestedAudience},
		{&req.GrantedAudience, r.grantedAudience},
	} {
		a, err := parseList(f.src)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: decode request %q: %w", r.id, err)
		}
		*f.dst = fosite.Arguments(a)
	}
	if req.RequestedScope == nil {
		req.RequestedScope = fosite.Arguments{}
	}
	if req.GrantedScope == nil {
		req.GrantedScope = fosite.Arguments{}
	}
	if req.RequestedAudience == nil {
		req.RequestedAudience = fosite.Arguments{}
	}
	if req.GrantedAudience == nil {
		req.GrantedAudience = fosite.Arguments{}
	}
	if req.Form, err = url.ParseQuery(r.form); err != nil {
		return nil, fmt.Errorf("sqlstore: decode form of request %q: %w", r.id, err)
	}
	if session != nil && strings.TrimSpace(r.session) != "null" {
		if err := json.Unmarshal([]byte(r.session), session); err != nil {
			return nil, fmt.Errorf("sqlstore: decode session of request %q into %T: %w", r.id, session, err)
		}
		req.Session = session
	}
	return req, nil
}
