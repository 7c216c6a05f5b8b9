package ciba_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPrivateKeyJWT: a private_key_jwt client authenticates at the backchannel endpoint with the
// issuer, the token endpoint or the backchannel endpoint as audience (CIBA Core §7.1), each assertion
// once.
func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	assertion := func(aud, jti string) string {
		now := f.clock.Now()
		return signRequest(t, f.clientKey, "ES256", map[string]interface{}{
			"iss": keyJWTClient, "sub": keyJWTClient, "aud": aud, "jti": jti,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		})
	}
	send := func(aud, jti string) int {
		fm := form("scope", "openid", "login_hint", "alice", "client_id", keyJWTClient,
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
			"client_assertion", assertion(aud, jti))
		res := f.do(t, req{path: bcPath, form: fm})
		if res.Status != http.StatusOK {
			t.Logf("%s: %s", aud, res.Body)
		}
		return res.Status
	}
	for _, aud := range []string{issuer, "https://op.example.com/token", backchannelURL} {
		require.Equal(t, http.StatusOK, send(aud, "jti-"+aud), aud)
	}
	require.Equal(t, http.StatusUnauthorized, send("https://elsewhere.example", "jti-other"))
	require.Equal(t, http.StatusUnauthorized, send(issuer, "jti-"+issuer), "an assertion's jti is single use")
	// Without an assertion the client has not authenticated.
	res := f.do(t, req{path: bcPath, form: form("scope", "openid", "login_hint", "alice", "client_id", keyJWTClient)})
	require.Equal(t, http.StatusUnauthorized, res.Status, "body: %s", res.Body)
	require.Equal(t, "invalid_client", res.Error(t))
}
