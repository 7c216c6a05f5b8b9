package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
)

// tokenStore keeps fosite's requests: authorization codes, access and refresh tokens, PKCE and OpenID
// Connect sessions, pushed authorization requests. It takes the place of the maps of fosite's
// MemoryStore, for three reasons: their locks are unexported, so nothing could purge them while the
// server runs; fosite's RotateRefreshToken is not conditional, so two concurrent refreshes with one
// token both got new tokens; and fosite's store remembers only the newest token of a grant, so
// revoking a grant could miss older ones. Its zero value is ready to use.
//
// One lock guards everything here: each method is a few map operations.
type tokenStore struct {
	mu      sync.RWMutex
	codes   map[string]*storedRequest // authorization codes (active until used)
	access  map[string]*storedRequest
	refresh map[string]*storedRequest // active until rotated or revoked
	pkce    map[string]*storedRequest
	oidc    map[string]*storedRequest
	par     map[string]*storedRequest
	grants  map[string]*tokenGrant // by request ID

	// Each map's keys queued by expiry, for Purge; grantsExp holds revoked grants with no tokens left.
	codesExp, accessExp, refreshExp, pkceExp, oidcExp, parExp, grantsExp expiryQueue[string]
}

// storedRequest is a stored fosite request with what the store needs to know about it.
type storedRequest struct {
	req       fosite.Requester
	expiresAt time.Time // from the session; zero means it does not expire
	active    bool      // codes and refresh tokens
}

// tokenGrant lists the access and refresh tokens of one grant (request ID), so that revoking the grant
// reaches all of them.
type tokenGrant struct {
	access, refresh []string
	// revokedAt is when RevokeRefreshToken revoked the grant. Tokens stored for the grant afterwards are
	// born revoked: a refresh that was rotating the grant's token while another request revoked the
	// grant (reuse detection) must not leave its new tokens alive.
	revokedAt time.Time
}

var (
	_ oauth2.CoreStorage                 = (*MemoryStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*MemoryStore)(nil)
	_ pkce.PKCERequestStorage            = (*MemoryStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*MemoryStore)(nil)
	_ fosite.PARStorage                  = (*MemoryStore)(nil)
)

func newStored(req fosite.Requester, expiry fosite.TokenType) *storedRequest {
	r := &storedRequest{req: req, active: true}
	if sess := req.GetSession(); sess != nil {
		r.expiresAt = sess.GetExpiresAt(expiry)
	}
	return r
}

// put stores r under key in *m and queues it by expiry in q.
func put(m *map[string]*storedRequest, q *expiryQueue[string], key string, r *storedRequest) {
	if *m == nil {
		*m = map[string]*storedRequest{}
	}
	(*m)[key] = r
	q.add(key, r.expiresAt)
}

// get returns a copy of what m holds under key (m is one of t's maps, read under t's lock).
func (t *tokenStore) get(m *map[string]*storedRequest, key string) (storedRequest, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := (*m)[key]
	if !ok {
		return storedRequest{}, fosite.ErrNotFound
	}
	return *r, nil
}

// grant returns the record of grant id, creating it.
func (t *tokenStore) grant(id string) *tokenGrant {
	if t.grants == nil {
		t.grants = map[string]*tokenGrant{}
	}
	g := t.grants[id]
	if g == nil {
		g = &tokenGrant{}
		t.grants[id] = g
	}
	return g
}

// forget removes sig from the lists of grant id.
func (t *tokenStore) forget(id, sig string, refresh bool) {
	g := t.grants[id]
	if g == nil {
		return
	}
	if refresh {
		g.refresh = slices.DeleteFunc(g.refresh, func(s string) bool { return s == sig })
	} else {
		g.access = slices.DeleteFunc(g.access, func(s string) bool { return s == sig })
	}
	t.settle(id, g)
}

// settle deletes the record of grant id when nothing is left of it, or, when the grant was revoked,
// queues it for Purge, which keeps it for the retention period.
func (t *tokenStore) settle(id string, g *tokenGrant) {
	if len(g.access) > 0 || len(g.refresh) > 0 {
		return
	}
	if g.revokedAt.IsZero() {
		delete(t.grants, id)
		return
	}
	t.grantsExp.add(id, g.revokedAt)
}

// expiry is when Purge may drop the record: its revocation time once it has no tokens left (Purge
// keeps it for the retention period after that), else never.
func (g *tokenGrant) expiry() time.Time {
	if len(g.access) > 0 || len(g.refresh) > 0 {
		return time.Time{}
	}
	return g.revokedAt
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage (RFC 6749 §4.1.2).
func (s *MemoryStore) CreateAuthorizeCodeSession(_ context.Context, code string, req fosite.Requester) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	put(&t.codes, &t.codesExp, code, newStored(req, fosite.AuthorizeCode))
	return nil
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage: a used code comes back with
// fosite.ErrInvalidatedAuthorizeCode, together with its request, so that fosite can revoke what it
// issued.
func (s *MemoryStore) GetAuthorizeCodeSession(_ context.Context, code string, _ fosite.Session) (fosite.Requester, error) {
	r, err := s.tokens.get(&s.tokens.codes, code)
	if err != nil {
		return nil, err
	}
	if !r.active {
		return r.req, fosite.ErrInvalidatedAuthorizeCode
	}
	return r.req, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *MemoryStore) InvalidateAuthorizeCodeSession(_ context.Context, code string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.codes[code]
	if !ok {
		return fosite.ErrNotFound
	}
	r.active = false
	return nil
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage (RFC 7636).
func (s *MemoryStore) CreatePKCERequestSession(_ context.Context, sig string, req fosite.Requester) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	put(&t.pkce, &t.pkceExp, sig, newStored(req, fosite.AuthorizeCode))
	return nil
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *MemoryStore) GetPKCERequestSession(_ context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	r, err := s.tokens.get(&s.tokens.pkce, sig)
	if err != nil {
		return nil, err
	}
	return r.req, nil
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *MemoryStore) DeletePKCERequestSession(_ context.Context, sig string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pkce, sig)
	return nil
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage (OpenID Connect Core §3.1).
func (s *MemoryStore) CreateOpenIDConnectSession(_ context.Context, code string, req fosite.Requester) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	put(&t.oidc, &t.oidcExp, code, newStored(req, fosite.AuthorizeCode))
	return nil
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *MemoryStore) GetOpenIDConnectSession(_ context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	r, err := s.tokens.get(&s.tokens.oidc, code)
	if err != nil {
		return nil, err
	}
	return r.req, nil
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *MemoryStore) DeleteOpenIDConnectSession(_ context.Context, code string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.oidc, code)
	return nil
}

// CreatePARSession implements fosite.PARStorage (RFC 9126 §2.2).
func (s *MemoryStore) CreatePARSession(_ context.Context, requestURI string, req fosite.AuthorizeRequester) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	put(&t.par, &t.parExp, requestURI, newStored(req, fosite.PushedAuthorizeRequestContext))
	return nil
}

// GetPARSession implements fosite.PARStorage. An expired pushed request is not found: RFC 9126 §2.2
// says its request_uri expires, and fosite does not check.
func (s *MemoryStore) GetPARSession(_ context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	r, err := s.tokens.get(&s.tokens.par, requestURI)
	if err != nil {
		return nil, err
	}
	if !r.expiresAt.IsZero() && !s.now().Before(r.expiresAt) {
		return nil, fosite.ErrNotFound
	}
	ar, ok := r.req.(fosite.AuthorizeRequester)
	if !ok {
		return nil, fmt.Errorf("memory: pushed authorization request of type %T", r.req)
	}
	return ar, nil
}

// DeletePARSession implements fosite.PARStorage.
func (s *MemoryStore) DeletePARSession(_ context.Context, requestURI string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.par, requestURI)
	return nil
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage. An access token of a grant revoked
// with RevokeRefreshToken is not stored: it was revoked before it was issued.
func (s *MemoryStore) CreateAccessTokenSession(_ context.Context, sig string, req fosite.Requester) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.grant(req.GetID())
	if !g.revokedAt.IsZero() {
		return nil
	}
	put(&t.access, &t.accessExp, sig, newStored(req, fosite.AccessToken))
	g.access = append(g.access, sig)
	return nil
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *MemoryStore) GetAccessTokenSession(_ context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	r, err := s.tokens.get(&s.tokens.access, sig)
	if err != nil {
		return nil, err
	}
	return r.req, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *MemoryStore) DeleteAccessTokenSession(_ context.Context, sig string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.access[sig]; ok {
		delete(t.access, sig)
		t.forget(r.req.GetID(), sig, false)
	}
	return nil
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage. A refresh token of a grant revoked
// with RevokeRefreshToken is stored inactive, so that presenting it is recognised as reuse.
func (s *MemoryStore) CreateRefreshTokenSession(_ context.Context, sig, _ string, req fosite.Requester) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.grant(req.GetID())
	r := newStored(req, fosite.RefreshToken)
	r.active = g.revokedAt.IsZero()
	put(&t.refresh, &t.refreshExp, sig, r)
	g.refresh = append(g.refresh, sig)
	return nil
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A rotated or revoked refresh token comes
// back with fosite.ErrInactiveToken, together with its request: fosite treats that as reuse and revokes
// the grant.
func (s *MemoryStore) GetRefreshTokenSession(_ context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	r, err := s.tokens.get(&s.tokens.refresh, sig)
	if err != nil {
		return nil, err
	}
	if !r.active {
		return r.req, fosite.ErrInactiveToken
	}
	return r.req, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *MemoryStore) DeleteRefreshTokenSession(_ context.Context, sig string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.refresh[sig]; ok {
		delete(t.refresh, sig)
		t.forget(r.req.GetID(), sig, true)
	}
	return nil
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage (RFC 6819 §5.2.2.3) in one step under the
// store's lock: the presented refresh token is deactivated if it is still active, and then the grant's
// other refresh tokens are deactivated and its access tokens deleted. Of concurrent rotations of one
// token exactly one succeeds; the others get fosite.ErrInactiveToken (fosite.ErrNotFound for an unknown
// token).
func (s *MemoryStore) RotateRefreshToken(_ context.Context, requestID, sig string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.refresh[sig]
	if !ok {
		return fosite.ErrNotFound
	}
	if !r.active {
		return fmt.Errorf("memory: the refresh token was rotated or revoked by another request: %w", fosite.ErrInactiveToken)
	}
	r.active = false
	t.deactivate(requestID)
	t.deleteAccess(requestID)
	return nil
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage (RFC 7009 §2.1): every refresh token of
// the grant becomes inactive (they stay stored, so that reuse is recognised), and tokens stored for
// the grant from now on are born revoked.
func (s *MemoryStore) RevokeRefreshToken(_ context.Context, requestID string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deactivate(requestID)
	g := t.grant(requestID)
	g.revokedAt = s.now()
	t.settle(requestID, g)
	return nil
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage (RFC 7009 §2.1): every access token of the
// grant is deleted.
func (s *MemoryStore) RevokeAccessToken(_ context.Context, requestID string) error {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deleteAccess(requestID)
	return nil
}

func (t *tokenStore) deactivate(requestID string) {
	if g := t.grants[requestID]; g != nil {
		for _, sig := range g.refresh {
			if r := t.refresh[sig]; r != nil {
				r.active = false
			}
		}
	}
}

func (t *tokenStore) deleteAccess(requestID string) {
	g := t.grants[requestID]
	if g == nil {
		return
	}
	for _, sig := range g.access {
		delete(t.access, sig)
	}
	g.access = nil
	t.settle(requestID, g)
}
