package sqlstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/registration"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

type registrationConfig struct{ policy *registration.Policy }

func (registrationConfig) GetSecretsHasher(context.Context) fosite.Hasher {
	return &fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}
}
func (c registrationConfig) GetRegistrationPolicy(context.Context) *registration.Policy {
	return c.policy
}

// TestDynamicallyRegisteredClient: a client registered through package registration comes back from the
// store with its keys, method, algorithm and metadata, authenticates with private_key_jwt, and reports
// its device lifetimes.
func TestDynamicallyRegisteredClient(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b.fresh(t))
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k"}}})
		require.NoError(t, err)

		policy := registration.DefaultPolicy()
		policy.Extensions = map[string]registration.ExtensionValidator{
			registration.FieldDeviceCodeLifespan: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
			registration.FieldDevicePickupWindow: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
		}
		m, err := policy.Parse([]byte(`{"client_name":"Kiosk phone","grant_types":["` + registration.GrantTypeDeviceCode + `"],
			"token_endpoint_auth_method":"private_key_jwt","jwks":` + string(jwks) + `,"scope":"openid",
			"device_code_lifespan":604800,"device_pickup_window":86400,"dpop_bound_access_tokens":true}`))
		require.NoError(t, err)
		ep := &registration.Endpoint{Storage: s, Config: registrationConfig{policy}}
		res, err := ep.Register(ctx, m)
		require.NoError(t, err)

		got, err := s.GetClient(ctx, res.ClientID)
		require.NoError(t, err)
		c, ok := got.(*sqlstore.Client)
		require.True(t, ok, "%T", got)
		require.Equal(t, "private_key_jwt", c.GetTokenEndpointAuthMethod())
		require.Equal(t, "ES256", c.GetTokenEndpointAuthSigningAlgorithm())
		require.Len(t, c.GetJSONWebKeys().Keys, 1)
		require.Equal(t, "sig", c.GetJSONWebKeys().Keys[0].Use)
		require.Equal(t, "Kiosk phone", c.Metadata["client_name"])
		require.Equal(t, 7*24*time.Hour, c.GetDeviceCodeLifespan())
		require.Equal(t, 24*time.Hour, c.GetDevicePickupWindow())
		require.True(t, dpop.Required(c), "dpop_bound_access_tokens (RFC 9449 section 5.2) is kept")

		const tokenURL = "https://as.example/oauth2/token"
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k"}}, nil)
		require.NoError(t, err)
		now := time.Now()
		assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: res.ClientID, Subject: res.ClientID, Audience: jwt.Audience{tokenURL},
			ID: "jti-" + res.ClientID, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now)}).CompactSerialize()
		require.NoError(t, err)
		provider := fosite.NewOAuth2Provider(s, &fosite.Config{TokenURL: tokenURL})
		authenticated, err := provider.AuthenticateClient(ctx, httptest.NewRequest(http.MethodPost, tokenURL, nil), url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
		})
		require.NoError(t, err)
		require.Equal(t, res.ClientID, authenticated.GetID())
	})
}
