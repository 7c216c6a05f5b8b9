package ciba_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/grantstest"
)

func randomJTI(t *testing.T) string {
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *fixture) requestClaims(t *testing.T) map[string]interface{} {
	now := f.clock.Now()
	return map[string]interface{}{
		"iss": signedClient, "aud": issuer, "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"jti": randomJTI(t), "scope": "openid profile", "login_hint": "alice", "binding_message": "1234",
	}
}

func signWith(t *testing.T, alg jose.SignatureAlgorithm, key interface{}, claims map[string]interface{}) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	require.NoError(t, err)
	obj, err := signer.Sign(payload)
	require.NoError(t, err)
	s, err := obj.CompactSerialize()
	require.NoError(t, err)
	return s
}

// TestSignedRequests follows the OpenID conformance suite's request-object tests (CIBA Core §7.1.1,
// FAPI-CIBA): each broken request object is refused with invalid_request, and nothing reaches a device.
func TestSignedRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	now := f.clock.Now()

	t.Run("valid", func(t *testing.T) {
		a := f.start(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", f.requestClaims(t))))
		require.EqualValues(t, 600, a.ExpiresIn)
		n := f.ad.last(t)
		require.Equal(t, "alice", n.Subject)
		require.Equal(t, "1234", n.BindingMessage)
		require.Equal(t, []string{"openid", "profile"}, n.Scopes)
	})
	t.Run("requested_expiry as string", func(t *testing.T) {
		c := f.requestClaims(t)
		c["requested_expiry"] = "120"
		a := f.start(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", c)))
		require.EqualValues(t, 120, a.ExpiresIn)
	})
	t.Run("requested_expiry as number", func(t *testing.T) {
		c := f.requestClaims(t)
		c["requested_expiry"] = 90
		a := f.start(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", c)))
		require.EqualValues(t, 90, a.ExpiresIn)
	})
	t.Run("aud as array", func(t *testing.T) {
		c := f.requestClaims(t)
		c["aud"] = []string{"https://other.example", issuer}
		f.start(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", c)))
	})
	t.Run("jti is single use", func(t *testing.T) {
		c := f.requestClaims(t)
		f.start(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", c)))
		res := f.authorize(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", c)))
		require.Equal(t, "invalid_request", res.Error(t))
		require.Contains(t, res.String(t, "error_description"), "jti")
	})

	before := f.ad.count()
	for _, tc := range []struct {
		name   string
		mutate func(map[string]interface{})
		sign   func(t *testing.T, claims map[string]interface{}) string
		extra  map[string]string
	}{
		{name: "missing_aud", mutate: func(c map[string]interface{}) { delete(c, "aud") }},
		{name: "bad_aud", mutate: func(c map[string]interface{}) { c["aud"] = "https://other.example" }},
		{name: "missing_iss", mutate: func(c map[string]interface{}) { delete(c, "iss") }},
		{name: "bad_iss", mutate: func(c map[string]interface{}) { c["iss"] = pollClient }},
		{name: "missing_exp", mutate: func(c map[string]interface{}) { delete(c, "exp") }},
		{name: "expired_exp", mutate: func(c map[string]interface{}) { c["exp"] = now.Add(-time.Minute).Unix() }},
		{name: "exp_70_minutes_in_future", mutate: func(c map[string]interface{}) { c["exp"] = now.Add(70 * time.Minute).Unix() }},
		{name: "missing_iat", mutate: func(c map[string]interface{}) { delete(c, "iat") }},
		{name: "missing_nbf", mutate: func(c map[string]interface{}) { delete(c, "nbf") }},
		{name: "nbf_10_minutes_in_future", mutate: func(c map[string]interface{}) { c["nbf"] = now.Add(10 * time.Minute).Unix() }},
		{name: "nbf_70_minutes_in_past", mutate: func(c map[string]interface{}) { c["nbf"] = now.Add(-70 * time.Minute).Unix() }},
		{name: "missing_jti", mutate: func(c map[string]interface{}) { delete(c, "jti") }},
		{name: "exp_not_a_number", mutate: func(c map[string]interface{}) { c["exp"] = "tomorrow" }},
		{name: "scope_not_a_string", mutate: func(c map[string]interface{}) { c["scope"] = []string{"openid"} }},
		{name: "requested_expiry_not_integer", mutate: func(c map[string]interface{}) { c["requested_expiry"] = 1.5 }},
		{name: "two_hints", mutate: func(c map[string]interface{}) { c["login_hint_token"] = "lht:alice" }},
		{name: "signature_algorithm_is_none", sign: func(t *testing.T, c map[string]interface{}) string {
			return signRequest(t, nil, "none", c)
		}},
		{name: "signature_algorithm_is_HS256", sign: func(t *testing.T, c map[string]interface{}) string {
			return signWith(t, jose.HS256, []byte(secret+secret), c)
		}},
		{name: "signature_algorithm_is_RS256", sign: func(t *testing.T, c map[string]interface{}) string {
			return signWith(t, jose.RS256, grantstest.Key(t), c)
		}},
		{name: "signature_algorithm_is_bad", sign: func(t *testing.T, c map[string]interface{}) string {
			s := signRequest(t, f.clientKey, "ES256", c)
			return b64(`{"alg":"ES257","kid":"k1"}`) + s[indexDot(s):]
		}},
		{name: "signed_by_other_key", sign: func(t *testing.T, c map[string]interface{}) string {
			return signRequest(t, f.otherKey, "ES256", c)
		}},
		{name: "parameter_outside_request", extra: map[string]string{"login_hint": "alice"}},
		{name: "garbage", sign: func(t *testing.T, c map[string]interface{}) string { return "a.b.c" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.requestClaims(t)
			if tc.mutate != nil {
				tc.mutate(c)
			}
			var jwt string
			if tc.sign != nil {
				jwt = tc.sign(t, c)
			} else {
				jwt = signRequest(t, f.clientKey, "ES256", c)
			}
			fm := form("request", jwt)
			for k, v := range tc.extra {
				fm.Set(k, v)
			}
			res := f.authorize(t, signedClient, fm)
			require.Equal(t, http.StatusBadRequest, res.Status, "body: %s", res.Body)
			require.Equal(t, "invalid_request", res.Error(t))
			requireErrorShape(t, res)
			grantstest.Golden(t, "signed_request_"+tc.name, res, nil)
		})
	}
	require.Equal(t, before, f.ad.count(), "no refused request reaches a device")
}

func indexDot(s string) int {
	for i := range s {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}
