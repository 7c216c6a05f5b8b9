package pending

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// TokenStorage is what a Lifecycle and its TokenIssuer use: the pending grants (to consume them) and
// fosite's token stores (to keep what is issued, and to revoke it on replay), ideally all in one
// transactional store.
type TokenStorage interface {
	Storage
	oauth2.AccessTokenStorage
	oauth2.RefreshTokenStorage
	oauth2.TokenRevocationStorage
}

// IssuerConfig is the configuration the issuer reads.
type IssuerConfig interface {
	fosite.AccessTokenLifespanProvider
	fosite.RefreshTokenLifespanProvider
	fosite.RefreshTokenScopesProvider
	fosite.IDTokenLifespanProvider
}

// TokenStrategies are the strategies a TokenIssuer mints tokens with.
type TokenStrategies struct {
	AccessToken  oauth2.AccessTokenStrategy
	RefreshToken oauth2.RefreshTokenStrategy
	// IDToken signs ID tokens; nil means the issuer issues none.
	IDToken openid.OpenIDConnectTokenStrategy
}

// NewTokenIssuer returns a TokenIssuer minting with tokens and storing in store. now is the clock; nil
// means time.Now.
func NewTokenIssuer(config IssuerConfig, store TokenStorage, tokens TokenStrategies, now func() time.Time) (*TokenIssuer, error) {
	if tokens.AccessToken == nil || tokens.RefreshToken == nil {
		return nil, errors.New("pending: the token issuer needs an access token and a refresh token strategy")
	}
	return &TokenIssuer{
		AccessTokenStrategy: tokens.AccessToken, RefreshTokenStrategy: tokens.RefreshToken, IDTokenStrategy: tokens.IDToken,
		Storage: store, Config: config, Now: now,
	}, nil
}

// TokenIssuer turns an approved pending grant into tokens: an access token always, a refresh token when
// the client may use the refresh_token grant and one of the refresh scopes (offline_access, offline by
// default) was granted, and an ID token when openid was granted. It is shared by every grant.
type TokenIssuer struct {
	AccessTokenStrategy  oauth2.AccessTokenStrategy
	RefreshTokenStrategy oauth2.RefreshTokenStrategy
	// IDTokenStrategy signs ID tokens; nil means this server issues none.
	IDTokenStrategy openid.OpenIDConnectTokenStrategy
	Storage         TokenStorage
	Config          IssuerConfig
	// Ceiling, when not nil, gives the ceiling of a client's tokens (Policy.CeilingFor: shorter
	// lifetimes, no refresh token).
	Ceiling func(clientID string) Ceiling
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Prepare copies an approved grant into the token request: its ID (so that every token issued carries
// the grant's request ID, which replay revocation relies on), its session, and the scopes and audience
// the user granted; and it sets the tokens' expiry times. Call it from HandleTokenEndpointRequest once
// Check returned nil.
func (i *TokenIssuer) Prepare(ctx context.Context, g *Grant, grantType fosite.GrantType, req fosite.AccessRequester) {
	req.SetID(g.Request.GetID())
	req.SetSession(g.Request.GetSession())
	req.SetRequestedScopes(g.Request.GetRequestedScopes())
	req.SetRequestedAudience(g.Request.GetRequestedAudience())
	for _, s := range g.Request.GetGrantedScopes() {
		req.GrantScope(s)
	}
	for _, a := range g.Request.GetGrantedAudience() {
		req.GrantAudience(a)
	}
	now := clock.Now(i.Now)
	at := fosite.GetEffectiveLifespan(req.GetClient(), grantType, fosite.AccessToken, i.Config.GetAccessTokenLifespan(ctx))
	req.GetSession().SetExpiresAt(fosite.AccessToken, now.Add(at).Round(time.Second))
	if rt := fosite.GetEffectiveLifespan(req.GetClient(), grantType, fosite.RefreshToken, i.Config.GetRefreshTokenLifespan(ctx)); rt > -1 {
		req.GetSession().SetExpiresAt(fosite.RefreshToken, now.Add(rt).Round(time.Second))
	}
	c := i.ceiling(req)
	for _, cap := range []struct {
		t   fosite.TokenType
		max time.Duration
	}{{fosite.AccessToken, c.AccessTokenLifespan}, {fosite.RefreshToken, c.RefreshTokenLifespan}} {
		if cap.max <= 0 {
			continue
		}
		if exp := req.GetSession().GetExpiresAt(cap.t); exp.IsZero() || exp.After(now.Add(cap.max)) {
			req.GetSession().SetExpiresAt(cap.t, now.Add(cap.max).Round(time.Second))
		}
	}
	markCeiling(req.GetSession(), c, now)
}

// The marks a session carries when its tokens were issued under a Ceiling with a token lifetime
// (TokenIssuer.Prepare), so that refreshing them keeps to it (KeepCeiling, which handler/refresh
// calls). They are entries of the session's expiry times, which fosite stores with the session and
// carries into every refreshed one; fosite reads no entry but its own token types'.
const (
	// CeilingIssuedAt is when the grant's first tokens were issued.
	CeilingIssuedAt fosite.TokenType = "grants_ceiling_issued_at"
	// CeilingAccessUntil is when the grant's first access token expired: a refreshed access token lives
	// no longer than it did (Ceiling.AccessTokenLifespan).
	CeilingAccessUntil fosite.TokenType = "grants_ceiling_access_until"
	// CeilingRefreshUntil is when the grant's first refresh token expires: no token refreshed from it
	// outlives it (Ceiling.RefreshTokenLifespan bounds the whole chain of rotations).
	CeilingRefreshUntil fosite.TokenType = "grants_ceiling_refresh_until"
)

// markCeiling records c's token lifetimes in s (see CeilingIssuedAt).
func markCeiling(s fosite.Session, c Ceiling, now time.Time) {
	if c.AccessTokenLifespan <= 0 && c.RefreshTokenLifespan <= 0 {
		return
	}
	s.SetExpiresAt(CeilingIssuedAt, now.Round(time.Second))
	if c.AccessTokenLifespan > 0 {
		s.SetExpiresAt(CeilingAccessUntil, s.GetExpiresAt(fosite.AccessToken))
	}
	if c.RefreshTokenLifespan > 0 {
		s.SetExpiresAt(CeilingRefreshUntil, s.GetExpiresAt(fosite.RefreshToken))
	}
}

// KeepCeiling holds a refreshed session to the ceiling its grant was issued under (see
// CeilingIssuedAt), now being the time of the refresh: the new access token lives no longer than the
// grant's first one did, and neither token outlives the grant's first refresh token. fosite's refresh
// handler sets the new tokens' expiry times from the server's lifespans, which would otherwise let
// every rotation extend the grant. A session without the marks, or of a type that keeps no expiry
// times but fosite's own, is left as it is.
func KeepCeiling(s fosite.Session, now time.Time) {
	issued := s.GetExpiresAt(CeilingIssuedAt)
	if issued.IsZero() {
		return
	}
	capAt := func(t fosite.TokenType, max time.Time) {
		if exp := s.GetExpiresAt(t); exp.IsZero() || exp.After(max) {
			s.SetExpiresAt(t, max)
		}
	}
	if until := s.GetExpiresAt(CeilingAccessUntil); !until.IsZero() {
		capAt(fosite.AccessToken, now.Add(until.Sub(issued)).Round(time.Second))
	}
	if end := s.GetExpiresAt(CeilingRefreshUntil); !end.IsZero() {
		capAt(fosite.AccessToken, end)
		capAt(fosite.RefreshToken, end)
	}
}

// ceiling returns the ceiling of req's client, or none.
func (i *TokenIssuer) ceiling(req fosite.Requester) Ceiling {
	if i.Ceiling == nil || req.GetClient() == nil {
		return Ceiling{}
	}
	return i.Ceiling(req.GetClient().GetID())
}

// Issue consumes the grant and issues its tokens as one step. All tokens are minted (and the ID token
// signed) first; then, in one transaction when the store supports them, the grant is consumed and the
// tokens are stored; only after the commit does the response carry them. So either the client gets
// tokens and the grant is consumed, or neither: a failed signature or a lost race never burns a grant,
// and of concurrent redemptions exactly one succeeds (the others get invalid_grant).
func (i *TokenIssuer) Issue(ctx context.Context, kind Kind, handleSignature string, grantType fosite.GrantType, req fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	access, accessSig, err := i.AccessTokenStrategy.GenerateAccessToken(ctx, req)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	var refresh, refreshSig string
	if i.canIssueRefreshToken(ctx, req) {
		if refresh, refreshSig, err = i.RefreshTokenStrategy.GenerateRefreshToken(ctx, req); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("bearer")

	var idToken string
	if i.IDTokenStrategy != nil && req.GetGrantedScopes().Has("openid") {
		sess, ok := req.GetSession().(openid.Session)
		if !ok {
			return fosite.ErrServerError.WithDebug("The openid scope was granted but the session is not an openid.Session.")
		}
		helper := openid.IDTokenHandleHelper{IDTokenStrategy: i.IDTokenStrategy}
		sess.IDTokenClaims().AccessTokenHash = helper.GetAccessTokenHash(ctx, req, resp)
		lifespan := fosite.GetEffectiveLifespan(req.GetClient(), grantType, fosite.IDToken, i.Config.GetIDTokenLifespan(ctx))
		if idToken, err = i.IDTokenStrategy.GenerateIDToken(ctx, lifespan, req); err != nil {
			return rfc6749.ServerError(err)
		}
	}

	ctx, err = storage.MaybeBeginTx(ctx, i.Storage)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	defer func() {
		if err != nil {
			if rbErr := storage.MaybeRollbackTx(ctx, i.Storage); rbErr != nil {
				err = fosite.ErrServerError.WithWrap(err).WithDebugf("error: %s; rollback error: %s", err, rbErr)
			}
		}
	}()

	if err = i.Storage.ConsumePendingGrant(ctx, kind, handleSignature); errors.Is(err, ErrStateChanged) || errors.Is(err, ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The handle has already been used.").WithWrap(ErrReplayed)
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	// One sanitised copy serves both token records (a store keeps what it is given and must not modify it).
	stored := req.Sanitize(nil)
	if err = i.Storage.CreateAccessTokenSession(ctx, accessSig, stored); err != nil {
		return rfc6749.ServerError(err)
	}
	if refreshSig != "" {
		if err = i.Storage.CreateRefreshTokenSession(ctx, refreshSig, accessSig, stored); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	if err = storage.MaybeCommitTx(ctx, i.Storage); errors.Is(err, ErrStateChanged) || errors.Is(err, ErrNotFound) {
		// A store that sends the consume with the tokens and COMMIT (PostgreSQL's pipelined transaction)
		// learns only at the commit that another redemption came first; nothing was committed.
		return fosite.ErrInvalidGrant.WithHint("The handle has already been used.").WithWrap(ErrReplayed)
	} else if err != nil {
		return rfc6749.ServerError(err)
	}

	resp.SetExpiresIn(expiresIn(req, fosite.AccessToken, i.Config.GetAccessTokenLifespan(ctx), clock.Now(i.Now)))
	resp.SetScopes(req.GetGrantedScopes())
	if refresh != "" {
		resp.SetExtra("refresh_token", refresh)
	}
	if idToken != "" {
		resp.SetExtra("id_token", idToken)
	}
	return nil
}

func (i *TokenIssuer) canIssueRefreshToken(ctx context.Context, req fosite.Requester) bool {
	if i.ceiling(req).NoRefreshTokens {
		return false
	}
	if scopes := i.Config.GetRefreshTokenScopes(ctx); len(scopes) > 0 && !req.GetGrantedScopes().HasOneOf(scopes...) {
		return false
	}
	return req.GetClient().GetGrantTypes().Has("refresh_token")
}

func expiresIn(r fosite.Requester, key fosite.TokenType, fallback time.Duration, now time.Time) time.Duration {
	if exp := r.GetSession().GetExpiresAt(key); !exp.IsZero() {
		return exp.Sub(now)
	}
	return fallback
}

// RevokeReplayed revokes what the first redemption of a grant issued, by the grant's request ID. Call
// it when Check or Issue returned an error wrapping ErrReplayed (RFC 6749 §4.1.2 applies the same
// defence to authorization codes).
func RevokeReplayed(ctx context.Context, s oauth2.TokenRevocationStorage, g *Grant) error {
	id := g.Request.GetID()
	errA := s.RevokeAccessToken(ctx, id)
	errR := s.RevokeRefreshToken(ctx, id)
	if errA != nil && !errors.Is(errA, fosite.ErrNotFound) {
		return errA
	}
	if errR != nil && !errors.Is(errR, fosite.ErrNotFound) {
		return errR
	}
	return nil
}
