package storagetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/refresh"
)

// RefreshStore is what RunRefreshStorageTests exercises: the client and token storage fosite's refresh
// token grant (RFC 6749 §6) reads and writes.
type RefreshStore interface {
	fosite.ClientManager
	oauth2.TokenRevocationStorage
}

// RefreshFactory returns n stores on one fresh, empty database in which client exists, as n server
// instances would open it. A store that cannot be shared between instances (the memory store) returns
// itself n times.
type RefreshFactory func(t *testing.T, client fosite.Client, n int) []RefreshStore

// RunRefreshStorageTests checks refresh token rotation (RFC 6819 §5.2.2.3) on a store, alone and
// through fosite's refresh token grant wrapped by package handler/refresh:
//
//   - RotateRefreshToken is one conditional step: of concurrent rotations of one refresh token exactly
//     one succeeds, the others get fosite.ErrInactiveToken; an unknown token is fosite.ErrNotFound;
//   - of 64 concurrent refresh requests with one refresh token, on one instance or spread over two,
//     exactly one gets tokens and the others get invalid_grant (never a server error), and the grant
//     ends revoked, the winner's new tokens included;
//   - presenting a rotated refresh token again revokes every token the grant issued since;
//   - a session's ceiling marks (pending.CeilingIssuedAt) are stored with it, so that refreshed tokens
//     keep to the ceiling.
func RunRefreshStorageTests(t *testing.T, newStores RefreshFactory) {
	ctx := context.Background()

	t.Run("rotation deactivates the presented token once", func(t *testing.T) {
		for _, n := range []int{1, 2} {
			t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) {
				t.Parallel()
				f := newRefreshFixture(t, newStores, n)
				fam := f.family(t, "rotate")
				var (
					mu       sync.Mutex
					ok, lost int
					i        int
				)
				raceN(64, func() {
					mu.Lock()
					st := f.stores[i%n]
					i++
					mu.Unlock()
					err := st.RotateRefreshToken(ctx, fam.id, fam.refreshSig)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, fosite.ErrInactiveToken):
						lost++
					default:
						t.Errorf("rotation failed with %v", err)
					}
				})
				require.Equal(t, 1, ok, "exactly one rotation succeeds")
				require.Equal(t, 63, lost, "the others find the token inactive")

				_, err := f.stores[0].GetRefreshTokenSession(ctx, fam.refreshSig, f.session())
				require.ErrorIs(t, err, fosite.ErrInactiveToken, "the rotated token stays stored, inactive, so that reuse is recognised")
				_, err = f.stores[0].GetAccessTokenSession(ctx, fam.accessSig, f.session())
				require.ErrorIs(t, err, fosite.ErrNotFound, "rotation removes the grant's access tokens")
				require.ErrorIs(t, f.stores[0].RotateRefreshToken(ctx, fam.id, "no-such-signature"), fosite.ErrNotFound)
			})
		}
	})

	t.Run("64 concurrent refreshes: one gets tokens, the others invalid_grant", func(t *testing.T) {
		for _, n := range []int{1, 2} {
			t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) {
				t.Parallel()
				f := newRefreshFixture(t, newStores, n)
				fam := f.family(t, "race")
				var (
					mu       sync.Mutex
					outcomes = map[string]int{}
					winner   map[string]string
					i        int
				)
				raceN(64, func() {
					mu.Lock()
					p := f.providers[i%n]
					i++
					mu.Unlock()
					tokens, rfc := f.refresh(p, fam.refresh)
					mu.Lock()
					defer mu.Unlock()
					if rfc == nil {
						outcomes["tokens"]++
						winner = tokens
						return
					}
					outcomes[fmt.Sprintf("%d %s", rfc.CodeField, rfc.ErrorField)]++
					if rfc.CodeField >= 500 {
						t.Errorf("server error: %s (%s)", rfc.ErrorField, rfc.DebugField)
					}
				})
				require.Equal(t, map[string]int{"tokens": 1, "400 invalid_grant": 63}, outcomes)

				// Every other request presented a token that had been (or was being) rotated: reuse, which
				// revokes the grant, the winner's tokens included, whichever request came first.
				_, err := f.stores[0].GetAccessTokenSession(ctx, f.strategy.AccessTokenSignature(ctx, winner["access_token"]), f.session())
				require.ErrorIs(t, err, fosite.ErrNotFound, "the winner's access token is revoked")
				_, rfc := f.refresh(f.providers[0], winner["refresh_token"])
				require.NotNil(t, rfc, "the winner's refresh token is revoked")
				require.Equal(t, "invalid_grant", rfc.ErrorField)
			})
		}
	})

	t.Run("refreshes in turn rotate, and reuse revokes the grant", func(t *testing.T) {
		for _, n := range []int{1, 2} {
			t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) {
				t.Parallel()
				f := newRefreshFixture(t, newStores, n)
				fam := f.family(t, "reuse")
				first, rfc := f.refresh(f.providers[0], fam.refresh)
				require.Nil(t, rfc, "%v", rfc)
				second, rfc := f.refresh(f.providers[n-1], first["refresh_token"])
				require.Nil(t, rfc, "%v", rfc)
				_, err := f.stores[0].GetAccessTokenSession(ctx, f.strategy.AccessTokenSignature(ctx, first["access_token"]), f.session())
				require.ErrorIs(t, err, fosite.ErrNotFound, "a refresh revokes the access tokens issued before it")
				got, err := f.stores[0].GetAccessTokenSession(ctx, f.strategy.AccessTokenSignature(ctx, second["access_token"]), f.session())
				require.NoError(t, err)
				require.Equal(t, fam.id, got.GetID(), "refreshed tokens belong to the same grant")

				_, rfc = f.refresh(f.providers[0], first["refresh_token"])
				require.NotNil(t, rfc, "a rotated refresh token is refused")
				require.Equal(t, "invalid_grant", rfc.ErrorField)
				require.Equal(t, http.StatusBadRequest, rfc.CodeField)
				_, err = f.stores[0].GetAccessTokenSession(ctx, f.strategy.AccessTokenSignature(ctx, second["access_token"]), f.session())
				require.ErrorIs(t, err, fosite.ErrNotFound, "reuse revokes the newest access token")
				_, rfc = f.refresh(f.providers[n-1], second["refresh_token"])
				require.NotNil(t, rfc, "reuse revokes the newest refresh token")
				require.Equal(t, "invalid_grant", rfc.ErrorField)
			})
		}
	})

	t.Run("a ceiling's marks are stored with the session and bound every refresh", func(t *testing.T) {
		t.Parallel()
		f := newRefreshFixture(t, newStores, 1)
		now := time.Now().UTC().Round(time.Second)
		end := now.Add(2 * time.Hour)
		fam := f.family(t, "ceiling", func(s *openid.DefaultSession) {
			s.ExpiresAt[pending.CeilingIssuedAt] = now
			s.ExpiresAt[pending.CeilingAccessUntil] = now.Add(10 * time.Minute)
			s.ExpiresAt[pending.CeilingRefreshUntil] = end
		})
		token := fam.refresh
		for i := 0; i < 2; i++ {
			got, rfc := f.refresh(f.providers[0], token)
			require.Nil(t, rfc, "%v", rfc)
			token = got["refresh_token"]
			r, err := f.stores[0].GetRefreshTokenSession(ctx, f.strategy.RefreshTokenSignature(ctx, token), f.session())
			require.NoError(t, err)
			s := r.GetSession()
			require.Equal(t, end, s.GetExpiresAt(pending.CeilingRefreshUntil).UTC(), "the marks are kept")
			require.False(t, s.GetExpiresAt(fosite.RefreshToken).After(end), "the refresh token outlives the grant's first (fosite: 24 hours)")
			require.False(t, s.GetExpiresAt(fosite.AccessToken).After(time.Now().Add(10*time.Minute+time.Second)),
				"the access token outlives the ceiling (fosite: an hour)")
		}
	})
}

// refreshFixture is n instances (a store and a provider composed with the refresh grant each) on one
// database, sharing one HMAC secret as instances behind one issuer do.
type refreshFixture struct {
	client    fosite.Client
	stores    []RefreshStore
	providers []fosite.OAuth2Provider
	strategy  *oauth2.HMACSHAStrategy
}

func newRefreshFixture(t *testing.T, newStores RefreshFactory, n int) *refreshFixture {
	c := newClient()
	f := &refreshFixture{client: c, stores: newStores(t, c, n)}
	require.Len(t, f.stores, n)
	for _, st := range f.stores {
		cfg := &fosite.Config{
			GlobalSecret:             []byte("storagetest refresh HMAC secret, 32+ bytes"),
			AccessTokenLifespan:      time.Hour,
			RefreshTokenLifespan:     24 * time.Hour,
			ScopeStrategy:            fosite.ExactScopeStrategy,
			AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
			RefreshTokenScopes:       []string{"offline_access"},
		}
		// fosite fills some defaults in lazily, on the first call, which races under concurrent requests.
		cfg.GetSecretsHasher(context.Background())
		cfg.GetJWKSFetcherStrategy(context.Background())
		strategy := fcompose.NewOAuth2HMACStrategy(cfg)
		f.strategy = strategy
		grant := fcompose.OAuth2RefreshTokenGrantFactory(cfg, st, strategy).(*oauth2.RefreshTokenGrantHandler)
		cfg.TokenEndpointHandlers.Append(refresh.New(grant))
		f.providers = append(f.providers, fosite.NewOAuth2Provider(st, cfg))
	}
	return f
}

func (f *refreshFixture) session() *openid.DefaultSession {
	return &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
}

type refreshFamily struct {
	id, refresh, refreshSig, accessSig string
}

// family stores an access and a refresh token of a new grant, as a token endpoint would have issued
// them, and returns the refresh token.
func (f *refreshFixture) family(t *testing.T, id string, edit ...func(*openid.DefaultSession)) refreshFamily {
	ctx := context.Background()
	now := time.Now().UTC()
	req := fosite.NewRequest()
	req.ID = "grant-" + id
	req.Client = f.client
	req.RequestedAt = now
	req.RequestedScope = fosite.Arguments{"openid", "offline_access"}
	req.GrantedScope = fosite.Arguments{"openid", "offline_access"}
	req.Form = url.Values{}
	sess := session("alice")
	sess.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: now.Add(time.Hour), fosite.RefreshToken: now.Add(24 * time.Hour)}
	for _, e := range edit {
		e(sess)
	}
	req.Session = sess
	_, atSig, err := f.strategy.GenerateAccessToken(ctx, req)
	require.NoError(t, err)
	rt, rtSig, err := f.strategy.GenerateRefreshToken(ctx, req)
	require.NoError(t, err)
	require.NoError(t, f.stores[0].CreateAccessTokenSession(ctx, atSig, req.Sanitize(nil)))
	require.NoError(t, f.stores[0].CreateRefreshTokenSession(ctx, rtSig, atSig, req.Sanitize(nil)))
	return refreshFamily{id: req.ID, refresh: rt, refreshSig: rtSig, accessSig: atSig}
}

// refresh sends a refresh token request (public client) through p and returns the token response, or
// fosite's error.
func (f *refreshFixture) refresh(p fosite.OAuth2Provider, token string) (map[string]string, *fosite.RFC6749Error) {
	ctx := context.Background()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {f.client.GetID()}}
	r, _ := http.NewRequest(http.MethodPost, "https://issuer.example/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ar, err := p.NewAccessRequest(ctx, r, f.session())
	if err != nil {
		return nil, fosite.ErrorToRFC6749Error(err)
	}
	resp, err := p.NewAccessResponse(ctx, ar)
	if err != nil {
		return nil, fosite.ErrorToRFC6749Error(err)
	}
	rt, _ := resp.GetExtra("refresh_token").(string)
	return map[string]string{"access_token": resp.GetAccessToken(), "refresh_token": rt}, nil
}

// raceN runs fn n times at once and waits for all.
func raceN(n int, fn func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn()
		}()
	}
	close(start)
	wg.Wait()
}
