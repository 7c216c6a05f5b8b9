package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/clock"
)

// The tables of fosite's request stores. Each is keyed by a token or code signature.
const (
	tableAuthorizeCodes = "oauth2_authorize_codes"
	tableAccessTokens   = "oauth2_access_tokens"
	tableRefreshTokens  = "oauth2_refresh_tokens"
	tablePKCE           = "oauth2_pkce"
	tableOIDC           = "oauth2_oidc_sessions"
	tablePAR            = "oauth2_par_sessions"
)

// createRequest inserts a request under signature. expiry names the token type whose expiry (from the
// session) is stored for Purge. A signature is unique: storing one twice is an error.
func (s *Store) createRequest(ctx context.Context, table, signature string, expiry fosite.TokenType, r fosite.Requester, extraCols string, extra ...any) error {
	e, err := encodeRequest(r)
	if err != nil {
		return err
	}
	var exp sql.NullInt64
	if sess := r.GetSession(); sess != nil {
		exp = nanos(sess.GetExpiresAt(expiry))
	}
	cols := "signature, " + requestColumns + ", subject, expires_at" + extraCols
	args := append(append([]any{signature}, e.args()...), e.subject, exp)
	args = append(args, extra...)
	return s.execLater(ctx, "store request in "+table, "INSERT INTO "+table+" ("+cols+") VALUES ("+placeholders(len(args))+")", args...)
}

// getRequest reads the request stored under signature into session. active reports the row's active
// flag for the tables that have one (true otherwise).
func (s *Store) getRequest(ctx context.Context, table, signature string, session fosite.Session, hasActive bool) (*fosite.Request, bool, error) {
	var r scannedRequest
	active := true
	dest := r.dest()
	cols := requestColumns
	if hasActive {
		cols += ", active"
		dest = append(dest, &active)
	}
	err := s.queryRow(ctx, "SELECT "+cols+" FROM "+table+" WHERE signature = ?", signature).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, fosite.ErrNotFound
	} else if err != nil {
		return nil, false, wrap(err, "read request from "+table)
	}
	req, err := s.decodeRequest(ctx, &r, session)
	if err != nil {
		return nil, false, err
	}
	return req, active, nil
}

func (s *Store) deleteRequest(ctx context.Context, table, signature string) error {
	_, err := s.exec(ctx, "DELETE FROM "+table+" WHERE signature = ?", signature)
	return wrap(err, "delete request from "+table)
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage (RFC 6749 §4.1.2).
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.createRequest(ctx, tableAuthorizeCodes, code, fosite.AuthorizeCode, req, ", active", true)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. For an invalidated (used) code it
// returns the request together with fosite.ErrInvalidatedAuthorizeCode, so that the caller can revoke
// what the code issued (RFC 6749 §4.1.2: "the authorization server MUST deny the request and SHOULD
// revoke (when possible) all tokens previously issued based on that authorization code").
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.getRequest(ctx, tableAuthorizeCodes, code, session, true)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage: the code stays stored but
// inactive. fosite.ErrNotFound when there is no such code.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	n, err := s.execAffected(ctx, "UPDATE "+tableAuthorizeCodes+" SET active = ? WHERE signature = ?", false, code)
	if err != nil {
		return wrap(err, "invalidate authorization code")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.createRequest(ctx, tableAccessTokens, signature, fosite.AccessToken, req, "")
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.getRequest(ctx, tableAccessTokens, signature, session, false)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.deleteRequest(ctx, tableAccessTokens, signature)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	return s.createRequest(ctx, tableRefreshTokens, signature, fosite.RefreshToken, req, ", active, access_token_signature", true, accessSignature)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. For a revoked or rotated refresh token
// it returns the request together with fosite.ErrInactiveToken, which fosite treats as reuse and
// answers by revoking the whole grant.
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, active, err := s.getRequest(ctx, tableRefreshTokens, signature, session, true)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage (RFC 7636).
func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.createRequest(ctx, tablePKCE, signature, fosite.AuthorizeCode, req, "")
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, _, err := s.getRequest(ctx, tablePKCE, signature, session, false)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.deleteRequest(ctx, tablePKCE, signature)
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage (OpenID Connect Core §3.1).
func (s *Store) CreateOpenIDConnectSession(ctx context.Context, authorizeCode string, req fosite.Requester) error {
	return s.createRequest(ctx, tableOIDC, authorizeCode, fosite.AuthorizeCode, req, "")
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage. The stored session is
// unmarshalled into the session of requester.
func (s *Store) GetOpenIDConnectSession(ctx context.Context, authorizeCode string, requester fosite.Requester) (fosite.Requester, error) {
	var session fosite.Session
	if requester != nil {
		session = requester.GetSession()
	}
	req, _, err := s.getRequest(ctx, tableOIDC, authorizeCode, session, false)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, authorizeCode string) error {
	return s.deleteRequest(ctx, tableOIDC, authorizeCode)
}

// parFields are the authorization request's own fields (RFC 6749 §4.1.1) a pushed request keeps.
type parFields struct {
	ResponseTypes        []string `json:"response_types"`
	RedirectURI          string   `json:"redirect_uri,omitempty"`
	State                string   `json:"state,omitempty"`
	HandledResponseTypes []string `json:"handled_response_types"`
	ResponseMode         string   `json:"response_mode,omitempty"`
	DefaultResponseMode  string   `json:"default_response_mode,omitempty"`
}

// CreatePARSession implements fosite.PARStorage (RFC 9126 §2.2): the pushed request is kept under its
// request_uri until it is used or expires.
func (s *Store) CreatePARSession(ctx context.Context, requestURI string, request fosite.AuthorizeRequester) error {
	f := parFields{
		ResponseTypes:        request.GetResponseTypes(),
		State:                request.GetState(),
		HandledResponseTypes: nil,
		ResponseMode:         string(request.GetResponseMode()),
		DefaultResponseMode:  string(request.GetDefaultResponseMode()),
	}
	if u := request.GetRedirectURI(); u != nil {
		f.RedirectURI = u.String()
	}
	if ar, ok := request.(*fosite.AuthorizeRequest); ok {
		f.HandledResponseTypes = ar.HandledResponseTypes
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("sqlstore: encode pushed authorization request: %w", err)
	}
	return s.createRequest(ctx, tablePAR, requestURI, fosite.PushedAuthorizeRequestContext, request, ", authorize", string(b))
}

// GetPARSession implements fosite.PARStorage. An expired pushed request is not found. The session is read into a value made by the function
// given with WithPARSession.
func (s *Store) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	var r scannedRequest
	var authorize string
	var exp sql.NullInt64
	err := s.queryRow(ctx, "SELECT "+requestColumns+", authorize, expires_at FROM "+tablePAR+" WHERE signature = ?", requestURI).Scan(append(r.dest(), &authorize, &exp)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, wrap(err, "read pushed authorization request")
	}
	// fosite does not check the expiry of a pushed request itself; RFC 9126 §2.2 says the request_uri
	// expires, so an expired one is as good as unknown.
	if exp.Valid && !clock.Now(s.opts.now).Before(fromNanos(exp)) {
		return nil, fosite.ErrNotFound
	}
	req, err := s.decodeRequest(ctx, &r, s.opts.newPARSession())
	if err != nil {
		return nil, err
	}
	var f parFields
	if err := json.Unmarshal([]byte(authorize), &f); err != nil {
		return nil, fmt.Errorf("sqlstore: decode pushed authorization request: %w", err)
	}
	ar := &fosite.AuthorizeRequest{
		ResponseTypes:        fosite.Arguments(f.ResponseTypes),
		State:                f.State,
		HandledResponseTypes: fosite.Arguments(f.HandledResponseTypes),
		ResponseMode:         fosite.ResponseModeType(f.ResponseMode),
		DefaultResponseMode:  fosite.ResponseModeType(f.DefaultResponseMode),
		Request:              *req,
	}
	if ar.ResponseTypes == nil {
		ar.ResponseTypes = fosite.Arguments{}
	}
	if ar.HandledResponseTypes == nil {
		ar.HandledResponseTypes = fosite.Arguments{}
	}
	if f.RedirectURI != "" {
		if ar.RedirectURI, err = url.Parse(f.RedirectURI); err != nil {
			return nil, fmt.Errorf("sqlstore: decode redirect URI of pushed authorization request: %w", err)
		}
	}
	return ar, nil
}

// DeletePARSession implements fosite.PARStorage.
func (s *Store) DeletePARSession(ctx context.Context, requestURI string) error {
	return s.deleteRequest(ctx, tablePAR, requestURI)
}
