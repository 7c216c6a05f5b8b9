package sqlstore_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// TestFositeOnTheStore runs fosite's own handlers (compose.ComposeAllEnabled) on the store:
// client_credentials, then the authorization code flow with PKCE and OpenID Connect, a refresh, and
// refresh-token reuse, which must revoke the grant.
func TestFositeOnTheStore(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	forEachBackend(t, func(t *testing.T, b backend) {
		store := open(t, b.fresh(t))
		hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
		require.NoError(t, err)
		client := &sqlstore.Client{DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{
				ID:            "app",
				Secret:        hash,
				RedirectURIs:  []string{"https://app.example/cb"},
				GrantTypes:    []string{"client_credentials", "authorization_code", "refresh_token"},
				ResponseTypes: []string{"code"},
				Scopes:        []string{"openid", "offline", "read"},
			},
			TokenEndpointAuthMethod: "client_secret_basic",
		}}
		require.NoError(t, store.CreateClient(ctx, client))

		config := &fosite.Config{
			GlobalSecret:         []byte("a-global-secret-of-32-bytes-long"),
			IDTokenIssuer:        "https://as.example",
			AccessTokenLifespan:  time.Hour,
			RefreshTokenLifespan: 24 * time.Hour,
			EnforcePKCE:          true,
			HashCost:             bcrypt.MinCost,
		}
		provider := compose.ComposeAllEnabled(config, store, key)

		newSession := func() *openid.DefaultSession {
			return &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
		}
		tokenRequest := func(form url.Values) (fosite.AccessResponder, error) {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("app", "s3cret")
			ar, err := provider.NewAccessRequest(ctx, r, newSession())
			if err != nil {
				return nil, err
			}
			return provider.NewAccessResponse(ctx, ar)
		}
		introspect := func(token string) error {
			_, _, err := provider.IntrospectToken(ctx, token, fosite.AccessToken, newSession())
			return err
		}

		t.Run("client_credentials", func(t *testing.T) {
			resp, err := tokenRequest(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
			require.NoError(t, err)
			require.NotEmpty(t, resp.GetAccessToken())
			require.NoError(t, introspect(resp.GetAccessToken()))
		})

		verifier := "a-code-verifier-that-is-long-enough-for-rfc-7636-xyz"
		authorize := func(t *testing.T) url.Values {
			sum := sha256.Sum256([]byte(verifier))
			q := url.Values{
				"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"},
				"scope": {"openid offline read"}, "state": {"state-12345"}, "nonce": {"nonce-12345"},
				"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
			}
			ar, err := provider.NewAuthorizeRequest(ctx, httptest.NewRequest(http.MethodGet, "/auth?"+q.Encode(), nil))
			require.NoError(t, err)
			for _, s := range ar.GetRequestedScopes() {
				ar.GrantScope(s)
			}
			sess := newSession()
			sess.Subject = "alice"
			sess.Claims.Subject = "alice"
			sess.Claims.AuthTime = time.Now().UTC()
			sess.Claims.RequestedAt = time.Now().UTC()
			authResp, err := provider.NewAuthorizeResponse(ctx, ar, sess)
			require.NoError(t, err)
			code := authResp.GetParameters().Get("code")
			require.NotEmpty(t, code)
			return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}
		}

		t.Run("authorization code with PKCE and OpenID Connect, refresh, refresh reuse", func(t *testing.T) {
			first, err := tokenRequest(authorize(t))
			require.NoError(t, err)
			require.NotEmpty(t, first.GetExtra("id_token"))
			refresh, _ := first.GetExtra("refresh_token").(string)
			require.NotEmpty(t, refresh)
			require.NoError(t, introspect(first.GetAccessToken()))

			second, err := tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
			require.NoError(t, err)
			require.NoError(t, introspect(second.GetAccessToken()))
			require.Error(t, introspect(first.GetAccessToken()), "refreshing revokes the old access token")

			_, err = tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
			require.Error(t, err, "a rotated refresh token can not be used again")
			require.Error(t, introspect(second.GetAccessToken()), "reusing a refresh token revokes the grant")
		})

		t.Run("a replayed authorization code revokes what it issued", func(t *testing.T) {
			exchange := authorize(t)
			first, err := tokenRequest(exchange)
			require.NoError(t, err)
			_, err = tokenRequest(exchange)
			require.ErrorIs(t, err, fosite.ErrInvalidGrant)
			require.Error(t, introspect(first.GetAccessToken()))
			refresh, _ := first.GetExtra("refresh_token").(string)
			_, err = tokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
			require.Error(t, err)
		})
	})
}
