package sqlstore_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testClient() *fosite.DefaultClient {
	return &fosite.DefaultClient{
		ID:            "client-1",
		Secret:        []byte("$2a$04$hash-of-the-secret"),
		RedirectURIs:  []string{"https://app.example/cb"},
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "offline"},
	}
}

func testSession(subject string) *openid.DefaultSession {
	s := &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject, AuthTime: t0},
		Headers: &jwt.Headers{Extra: map[string]interface{}{"kid": "k1"}},
		Subject: subject,
	}
	s.SetExpiresAt(fosite.AccessToken, t0.Add(time.Hour))
	s.SetExpiresAt(fosite.RefreshToken, t0.Add(24*time.Hour))
	s.SetExpiresAt(fosite.AuthorizeCode, t0.Add(10*time.Minute))
	return s
}

func testRequest(c fosite.Client, id string) *fosite.Request {
	return &fosite.Request{
		ID:                id,
		RequestedAt:       t0,
		Client:            c,
		RequestedScope:    fosite.Arguments{"openid", "offline"},
		GrantedScope:      fosite.Arguments{"openid"},
		RequestedAudience: fosite.Arguments{"https://api.example"},
		GrantedAudience:   fosite.Arguments{"https://api.example"},
		Form: url.Values{
			"redirect_uri":  {"https://app.example/cb"},
			"client_secret": {"s3cret"},
			"password":      {"hunter2"},
			"code_verifier": {"verifier"},
		},
		Session: testSession("alice"),
	}
}

// newStoreWithClient returns a fresh store of backend b holding testClient.
func newStoreWithClient(t *testing.T, b backend, opts ...sqlstore.Option) (*sqlstore.Store, fosite.Client) {
	s := open(t, b.fresh(t), opts...)
	c := testClient()
	require.NoError(t, s.SetClient(context.Background(), c))
	return s, c
}

func requireSameRequest(t *testing.T, want *fosite.Request, got fosite.Requester) {
	t.Helper()
	require.Equal(t, want.GetID(), got.GetID())
	require.True(t, want.GetRequestedAt().Equal(got.GetRequestedAt()))
	require.Equal(t, want.GetClient().GetID(), got.GetClient().GetID())
	require.Equal(t, want.GetRequestedScopes(), got.GetRequestedScopes())
	require.Equal(t, want.GetGrantedScopes(), got.GetGrantedScopes())
	require.Equal(t, want.GetRequestedAudience(), got.GetRequestedAudience())
	require.Equal(t, want.GetGrantedAudience(), got.GetGrantedAudience())
	require.Equal(t, "https://app.example/cb", got.GetRequestForm().Get("redirect_uri"))
	for _, secret := range []string{"client_secret", "password", "code_verifier"} {
		require.NotContains(t, got.GetRequestForm(), secret, "secrets are not stored")
	}
	sess, ok := got.GetSession().(*openid.DefaultSession)
	require.True(t, ok, "the session is hydrated into the value passed in, got %T", got.GetSession())
	require.Equal(t, "alice", sess.GetSubject())
	require.Equal(t, "alice", sess.Claims.Subject)
	require.True(t, t0.Add(time.Hour).Equal(sess.GetExpiresAt(fosite.AccessToken)))
}

// TestFositeStorage mirrors the behaviour of fosite's storage.MemoryStore.
func TestFositeStorage(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		s, c := newStoreWithClient(t, b)

		t.Run("authorize code: invalidated code returns the request and ErrInvalidatedAuthorizeCode", func(t *testing.T) {
			req := testRequest(c, "req-code")
			require.NoError(t, s.CreateAuthorizeCodeSession(ctx, "code-sig", req))
			got, err := s.GetAuthorizeCodeSession(ctx, "code-sig", &openid.DefaultSession{})
			require.NoError(t, err)
			requireSameRequest(t, req, got)

			require.NoError(t, s.InvalidateAuthorizeCodeSession(ctx, "code-sig"))
			got, err = s.GetAuthorizeCodeSession(ctx, "code-sig", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrInvalidatedAuthorizeCode)
			require.NotNil(t, got, "the request comes with the error, so that its tokens can be revoked")
			require.Equal(t, "req-code", got.GetID())

			_, err = s.GetAuthorizeCodeSession(ctx, "nope", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound)
			require.ErrorIs(t, s.InvalidateAuthorizeCodeSession(ctx, "nope"), fosite.ErrNotFound)
		})

		t.Run("access tokens: create, get, delete, revoke by request ID", func(t *testing.T) {
			req := testRequest(c, "req-at")
			require.NoError(t, s.CreateAccessTokenSession(ctx, "at-1", req))
			require.NoError(t, s.CreateAccessTokenSession(ctx, "at-2", req))
			require.Error(t, s.CreateAccessTokenSession(ctx, "at-1", req), "a signature is stored once")
			got, err := s.GetAccessTokenSession(ctx, "at-1", &openid.DefaultSession{})
			require.NoError(t, err)
			requireSameRequest(t, req, got)

			require.NoError(t, s.DeleteAccessTokenSession(ctx, "at-1"))
			_, err = s.GetAccessTokenSession(ctx, "at-1", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound)

			require.NoError(t, s.RevokeAccessToken(ctx, "req-at"))
			_, err = s.GetAccessTokenSession(ctx, "at-2", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound)
			require.NoError(t, s.RevokeAccessToken(ctx, "unknown-request"), "revoking nothing is not an error")
		})

		t.Run("refresh tokens: revoked and rotated tokens are inactive but still returned", func(t *testing.T) {
			req := testRequest(c, "req-rt")
			require.NoError(t, s.CreateRefreshTokenSession(ctx, "rt-1", "at-x", req))
			got, err := s.GetRefreshTokenSession(ctx, "rt-1", &openid.DefaultSession{})
			require.NoError(t, err)
			requireSameRequest(t, req, got)

			require.NoError(t, s.RevokeRefreshToken(ctx, "req-rt"))
			got, err = s.GetRefreshTokenSession(ctx, "rt-1", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrInactiveToken)
			require.Equal(t, "req-rt", got.GetID())

			req2 := testRequest(c, "req-rot")
			require.NoError(t, s.CreateRefreshTokenSession(ctx, "rt-2", "at-2", req2))
			require.NoError(t, s.CreateAccessTokenSession(ctx, "at-rot", req2))
			require.NoError(t, s.RotateRefreshToken(ctx, "req-rot", "rt-2"))
			_, err = s.GetRefreshTokenSession(ctx, "rt-2", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrInactiveToken)
			_, err = s.GetAccessTokenSession(ctx, "at-rot", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound, "rotation revokes the grant's access tokens")

			require.NoError(t, s.DeleteRefreshTokenSession(ctx, "rt-2"))
			_, err = s.GetRefreshTokenSession(ctx, "rt-2", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound)
		})

		t.Run("PKCE and OpenID Connect sessions", func(t *testing.T) {
			req := testRequest(c, "req-pkce")
			req.Form.Set("code_challenge", "challenge")
			require.NoError(t, s.CreatePKCERequestSession(ctx, "pkce-1", req))
			got, err := s.GetPKCERequestSession(ctx, "pkce-1", &openid.DefaultSession{})
			require.NoError(t, err)
			require.Equal(t, "challenge", got.GetRequestForm().Get("code_challenge"))
			require.NoError(t, s.DeletePKCERequestSession(ctx, "pkce-1"))
			_, err = s.GetPKCERequestSession(ctx, "pkce-1", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound)

			require.NoError(t, s.CreateOpenIDConnectSession(ctx, "oidc-1", testRequest(c, "req-oidc")))
			got, err = s.GetOpenIDConnectSession(ctx, "oidc-1", &fosite.Request{Session: &openid.DefaultSession{}})
			require.NoError(t, err)
			requireSameRequest(t, testRequest(c, "req-oidc"), got)
			require.NoError(t, s.DeleteOpenIDConnectSession(ctx, "oidc-1"))
			_, err = s.GetOpenIDConnectSession(ctx, "oidc-1", &fosite.Request{Session: &openid.DefaultSession{}})
			require.ErrorIs(t, err, openid.ErrNoSessionFound)
		})

		t.Run("client assertion JWT IDs are single use until they expire", func(t *testing.T) {
			require.NoError(t, s.ClientAssertionJWTValid(ctx, "jti-1"))
			require.NoError(t, s.SetClientAssertionJWT(ctx, "jti-1", time.Now().Add(time.Hour)))
			require.ErrorIs(t, s.ClientAssertionJWTValid(ctx, "jti-1"), fosite.ErrJTIKnown)
			require.ErrorIs(t, s.SetClientAssertionJWT(ctx, "jti-1", time.Now().Add(time.Hour)), fosite.ErrJTIKnown)
			used, err := s.IsJWTUsed(ctx, "jti-1")
			require.NoError(t, err)
			require.True(t, used)

			require.NoError(t, s.SetClientAssertionJWT(ctx, "jti-old", time.Now().Add(-time.Minute)))
			require.NoError(t, s.ClientAssertionJWTValid(ctx, "jti-old"), "an expired JWT ID no longer counts")
			require.NoError(t, s.SetClientAssertionJWT(ctx, "jti-old", time.Now().Add(time.Hour)))
		})
	})
}

func TestPushedAuthorizationRequests(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		now := t0
		s := open(t, b.fresh(t), sqlstore.WithClock(func() time.Time { return now }))
		c := testClient()
		require.NoError(t, s.SetClient(ctx, c))

		ar := fosite.NewAuthorizeRequest()
		ar.Request = *testRequest(c, "req-par")
		ar.ResponseTypes = fosite.Arguments{"code"}
		ar.RedirectURI, _ = url.Parse("https://app.example/cb")
		ar.State = "state-123"
		ar.ResponseMode = fosite.ResponseModeQuery
		ar.Session.SetExpiresAt(fosite.PushedAuthorizeRequestContext, t0.Add(time.Minute))
		require.NoError(t, s.CreatePARSession(ctx, "urn:ietf:params:oauth:request_uri:abc", ar))

		got, err := s.GetPARSession(ctx, "urn:ietf:params:oauth:request_uri:abc")
		require.NoError(t, err)
		require.Equal(t, fosite.Arguments{"code"}, got.GetResponseTypes())
		require.Equal(t, "https://app.example/cb", got.GetRedirectURI().String())
		require.Equal(t, "state-123", got.GetState())
		require.Equal(t, fosite.ResponseModeQuery, got.GetResponseMode())
		require.Equal(t, "req-par", got.GetID())
		require.Equal(t, "alice", got.GetSession().GetSubject())

		now = t0.Add(time.Minute)
		_, err = s.GetPARSession(ctx, "urn:ietf:params:oauth:request_uri:abc")
		require.ErrorIs(t, err, fosite.ErrNotFound, "an expired request_uri is unknown (RFC 9126 §2.2)")

		require.NoError(t, s.DeletePARSession(ctx, "urn:ietf:params:oauth:request_uri:abc"))
		now = t0
		_, err = s.GetPARSession(ctx, "urn:ietf:params:oauth:request_uri:abc")
		require.ErrorIs(t, err, fosite.ErrNotFound)
	})
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.fresh(t))
		at := 30 * time.Minute
		keys := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "sym", Algorithm: "HS256"}}}
		oidc := &sqlstore.Client{
			DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{
				DefaultClient: &fosite.DefaultClient{
					ID:             "oidc",
					Secret:         []byte("$2a$04$current"),
					RotatedSecrets: [][]byte{[]byte("$2a$04$previous")},
					RedirectURIs:   []string{"https://rp.example/cb"},
					GrantTypes:     []string{"urn:openid:params:grant-type:ciba"},
					ResponseTypes:  []string{"code"},
					Scopes:         []string{"openid"},
					Audience:       []string{"https://api.example"},
				},
				JSONWebKeys:                       keys,
				JSONWebKeysURI:                    "https://rp.example/jwks",
				TokenEndpointAuthMethod:           "private_key_jwt",
				TokenEndpointAuthSigningAlgorithm: "ES256",
				RequestURIs:                       []string{"https://rp.example/req"},
				RequestObjectSigningAlgorithm:     "ES256",
			},
			TokenLifespans: &fosite.ClientLifespanConfig{ClientCredentialsGrantAccessTokenLifespan: &at},
			Metadata:       map[string]any{"backchannel_token_delivery_mode": "ping", "backchannel_user_code_parameter": true},
		}

		tests := []struct {
			name  string
			check func(t *testing.T)
		}{
			{"an OpenID Connect client round-trips every field", func(t *testing.T) {
				require.NoError(t, s.CreateClient(ctx, oidc))
				got, err := s.GetClient(ctx, "oidc")
				require.NoError(t, err)
				gotClient, ok := got.(*sqlstore.Client)
				require.True(t, ok, "got %T", got)
				// go-jose decodes absent certificate fields as empty rather than nil: compare the key set as JSON.
				wantKeys, _ := json.Marshal(oidc.JSONWebKeys)
				gotKeys, _ := json.Marshal(gotClient.JSONWebKeys)
				require.JSONEq(t, string(wantKeys), string(gotKeys))
				want, gotCopy := *oidc, *gotClient
				want.JSONWebKeys, gotCopy.JSONWebKeys = nil, nil
				require.Equal(t, want, gotCopy)
				require.Equal(t, at, fosite.GetEffectiveLifespan(got, fosite.GrantTypeClientCredentials, fosite.AccessToken, time.Hour))
				require.ErrorIs(t, s.CreateClient(ctx, oidc), sqlstore.ErrClientExists)
			}},
			{"a plain client stays a plain client", func(t *testing.T) {
				plain := &fosite.DefaultClient{ID: "plain", Public: true, GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"}}
				require.NoError(t, s.SetClient(ctx, plain))
				got, err := s.GetClient(ctx, "plain")
				require.NoError(t, err)
				_, isOIDC := got.(fosite.OpenIDConnectClient)
				require.False(t, isOIDC, "fosite must accept any authentication method for it, as for DefaultClient")
				require.True(t, got.IsPublic())
				require.Equal(t, plain.GrantTypes, []string(got.GetGrantTypes()))
				require.Empty(t, got.GetHashedSecret())
				require.Equal(t, time.Hour, fosite.GetEffectiveLifespan(got, fosite.GrantTypeClientCredentials, fosite.AccessToken, time.Hour))
			}},
			{"update replaces, unknown clients are not found", func(t *testing.T) {
				c := testClient()
				require.ErrorIs(t, s.UpdateClient(ctx, c), fosite.ErrNotFound)
				require.NoError(t, s.SetClient(ctx, c))
				c.Scopes = []string{"openid", "profile"}
				require.NoError(t, s.UpdateClient(ctx, c))
				got, err := s.GetClient(ctx, c.ID)
				require.NoError(t, err)
				require.Equal(t, fosite.Arguments{"openid", "profile"}, got.GetScopes())
				_, err = s.GetClient(ctx, "nobody")
				require.ErrorIs(t, err, fosite.ErrNotFound)
				require.ErrorIs(t, s.DeleteClient(ctx, "nobody"), fosite.ErrNotFound)
			}},
			{"deleting a client deletes what was issued to it", func(t *testing.T) {
				c := testClient()
				c.ID = "doomed"
				require.NoError(t, s.SetClient(ctx, c))
				require.NoError(t, s.CreateAccessTokenSession(ctx, "doomed-at", testRequest(c, "doomed-req")))
				require.NoError(t, s.CreateRefreshTokenSession(ctx, "doomed-rt", "doomed-at", testRequest(c, "doomed-req")))
				require.NoError(t, s.DeleteClient(ctx, "doomed"))
				_, err := s.GetAccessTokenSession(ctx, "doomed-at", &openid.DefaultSession{})
				require.ErrorIs(t, err, fosite.ErrNotFound)
				_, err = s.GetRefreshTokenSession(ctx, "doomed-rt", &openid.DefaultSession{})
				require.ErrorIs(t, err, fosite.ErrNotFound)
			}},
			{"a request for an unknown client is refused", func(t *testing.T) {
				ghost := testClient()
				ghost.ID = "ghost"
				require.Error(t, s.CreateAccessTokenSession(ctx, "ghost-at", testRequest(ghost, "ghost-req")))
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, tc.check)
		}
	})
}

func TestJWTBearerKeys(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.fresh(t))
		priv := mustECKey(t)
		pub := jose.JSONWebKey{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}
		require.Error(t, s.SetJWTBearerKey(ctx, "iss", "sub", &jose.JSONWebKey{Key: priv, KeyID: "k0"}, nil), "private keys are refused")
		require.NoError(t, s.SetJWTBearerKey(ctx, "iss", "sub", &pub, []string{"read"}))

		got, err := s.GetPublicKey(ctx, "iss", "sub", "k1")
		require.NoError(t, err)
		require.Equal(t, "k1", got.KeyID)
		scopes, err := s.GetPublicKeyScopes(ctx, "iss", "sub", "k1")
		require.NoError(t, err)
		require.Equal(t, []string{"read"}, scopes)
		set, err := s.GetPublicKeys(ctx, "iss", "sub")
		require.NoError(t, err)
		require.Len(t, set.Keys, 1)

		_, err = s.GetPublicKeys(ctx, "iss", "other")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		require.NoError(t, s.DeleteJWTBearerKey(ctx, "iss", "sub", "k1"))
		_, err = s.GetPublicKey(ctx, "iss", "sub", "k1")
		require.ErrorIs(t, err, fosite.ErrNotFound)
	})
}
