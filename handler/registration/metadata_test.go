package registration_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/registration"
)

// deviceBody is the metadata of a kiosk device client (seed 001): device grant, private_key_jwt.
func deviceBody(extra string) string {
	return `{"client_name":"Kiosk phone","grant_types":["` + registration.GrantTypeDeviceCode + `","refresh_token"],` +
		`"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` + ecPublicJWK + `]},"scope":"openid offline_access"` + extra + `}`
}

func testPolicy() *registration.Policy {
	p := registration.DefaultPolicy()
	p.Extensions = map[string]registration.ExtensionValidator{
		registration.FieldDeviceCodeLifespan: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
		"backchannel_enrollment_fallback":    registration.Boolean,
	}
	p.BackchannelUserCodeParameter = true
	return p
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		body  string
		check func(t *testing.T, m *registration.Metadata)
	}{
		{"device client with inline EC key", deviceBody(""), func(t *testing.T, m *registration.Metadata) {
			require.Equal(t, "ES256", m.TokenEndpointAuthSigningAlg, "the algorithm follows the key's curve")
			require.Equal(t, "sig", m.JWKS.Keys[0].Use, "keys are marked for signing so fosite uses them")
			require.Empty(t, m.RedirectURIs)
			require.Empty(t, m.ResponseTypes, "no redirect-based grant: no response type")
		}},
		{"RFC 7591 defaults", `{"redirect_uris":["https://app.example/cb"]}`, func(t *testing.T, m *registration.Metadata) {
			require.Equal(t, []string{"authorization_code"}, m.GrantTypes)
			require.Equal(t, []string{"code"}, m.ResponseTypes)
			require.Equal(t, "client_secret_basic", m.TokenEndpointAuthMethod)
			require.Equal(t, strings.Join(registration.DefaultPolicy().Scopes, " "), m.Scope)
		}},
		{"native app redirect URIs (RFC 8252)", `{"redirect_uris":["http://127.0.0.1:8400/cb","http://[::1]/cb","com.example.app:/cb"],"token_endpoint_auth_method":"none"}`, nil},
		{"RSA key with jwks and PS256", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","token_endpoint_auth_signing_alg":"PS256","jwks":{"keys":[` + rsaPublicJWK + `]}}`, nil},
		{"jwks_uri", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://client.example/jwks"}`, func(t *testing.T, m *registration.Metadata) {
			require.Equal(t, "RS256", m.TokenEndpointAuthSigningAlg)
		}},
		{"CIBA ping client", deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"https://client.example/cb","backchannel_authentication_request_signing_alg":"ES256","backchannel_user_code_parameter":true`), nil},
		{"CIBA push client without the grant type", deviceBody(`,"grant_types":["refresh_token"],"backchannel_token_delivery_mode":"push","backchannel_client_notification_endpoint":"https://client.example/cb"`), nil},
		{"CIBA extension field", deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"poll","backchannel_enrollment_fallback":true`), func(t *testing.T, m *registration.Metadata) {
			require.Equal(t, map[string]any{"backchannel_enrollment_fallback": true}, m.Extensions)
		}},
		{"extension field", deviceBody(`,"device_code_lifespan":604800,"unknown_field":"ignored"`), func(t *testing.T, m *registration.Metadata) {
			require.Equal(t, map[string]any{"device_code_lifespan": float64(604800)}, m.Extensions)
		}},
		{"DPoP-bound access tokens (RFC 9449 section 5.2)", deviceBody(`,"dpop_bound_access_tokens":true`), func(t *testing.T, m *registration.Metadata) {
			require.True(t, m.DPoPBoundAccessTokens)
			require.Empty(t, m.Extensions, "a registered field, not an extension")
		}},
		{"duplicates removed", deviceBody(`,"scope":"openid openid","grant_types":["refresh_token","refresh_token","` + registration.GrantTypeDeviceCode + `"]`), func(t *testing.T, m *registration.Metadata) {
			require.Equal(t, "openid", m.Scope)
			require.Equal(t, []string{"refresh_token", registration.GrantTypeDeviceCode}, m.GrantTypes)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := testPolicy().Parse([]byte(tc.body))
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, m)
			}
			// What was accepted is accepted again, unchanged.
			b, err := json.Marshal(m)
			require.NoError(t, err)
			again, err := testPolicy().Parse(b)
			require.NoError(t, err)
			b2, err := json.Marshal(again)
			require.NoError(t, err)
			require.JSONEq(t, string(b), string(b2))
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	ciba := `,"grant_types":["` + registration.GrantTypeCIBA + `"]`
	for _, tc := range []struct {
		name, body, code, hint string
	}{
		{"not an object", `[]`, "invalid_client_metadata", "JSON object"},
		{"two objects", `{} {}`, "invalid_client_metadata", "one JSON object"},
		{"wrong type", `{"grant_types":"client_credentials"}`, "invalid_client_metadata", "'grant_types' must be an array"},
		{"jwks and jwks_uri", deviceBody(`,"jwks_uri":"https://client.example/jwks"`), "invalid_client_metadata", "must not both be present"},
		{"private key in jwks", strings.Replace(deviceBody(""), ecPublicJWK, ecPrivateJWK, 1), "invalid_client_metadata", "private or symmetric key material ('d')"},
		{"symmetric key in jwks", strings.Replace(deviceBody(""), ecPublicJWK, octJWK, 1), "invalid_client_metadata", "('k')"},
		{"small RSA key", strings.Replace(deviceBody(`,"token_endpoint_auth_signing_alg":"RS256"`), ecPublicJWK, rsa1024JWK, 1), "invalid_client_metadata", "1024 bits"},
		{"encryption key", strings.Replace(deviceBody(""), `"kid":"k1"`, `"kid":"k1","use":"enc"`, 1), "invalid_client_metadata", "only signing keys"},
		{"empty key set", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]}}`, "invalid_client_metadata", "between 1 and 10 keys"},
		{"not a key set", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":` + ecPublicJWK + `}`, "invalid_client_metadata", "JSON Web Key Set"},
		{"private_key_jwt without keys", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}`, "invalid_client_metadata", "needs the client's public keys"},
		{"HS256 for private_key_jwt", deviceBody(`,"token_endpoint_auth_signing_alg":"HS256"`), "invalid_client_metadata", "'HS256' is not allowed"},
		{"none for private_key_jwt", deviceBody(`,"token_endpoint_auth_signing_alg":"none"`), "invalid_client_metadata", "'none' is not allowed"},
		{"algorithm without a fitting key", deviceBody(`,"token_endpoint_auth_signing_alg":"RS256"`), "invalid_client_metadata", "No key in 'jwks' can verify RS256"},
		{"signing alg for a secret method", `{"grant_types":["client_credentials"],"token_endpoint_auth_signing_alg":"RS256"}`, "invalid_client_metadata", "applies to the token_endpoint_auth_method 'private_key_jwt' only"},
		{"http jwks_uri", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://127.0.0.1/jwks"}`, "invalid_client_metadata", "'jwks_uri' must be an https URL"},
		{"unknown grant type", deviceBody(`,"grant_types":["password"]`), "invalid_client_metadata", "The grant type 'password' is not supported"},
		{"no grant type", deviceBody(`,"grant_types":[]`), "invalid_client_metadata", "at least one grant type"},
		{"client_secret_jwt", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_jwt"}`, "invalid_client_metadata", "'client_secret_jwt' is not supported"},
		{"public client with client_credentials", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, "invalid_client_metadata", "confidential clients only"},
		{"code response type without the grant", deviceBody(`,"response_types":["code"]`), "invalid_client_metadata", "needs the grant type 'authorization_code'"},
		{"token response type without implicit", `{"redirect_uris":["https://app.example/cb"],"response_types":["code","token"]}`, "invalid_client_metadata", "needs the grant type 'implicit'"},
		{"authorization_code without code", `{"redirect_uris":["https://app.example/cb"],"response_types":[]}`, "invalid_client_metadata", "needs the response type 'code'"},
		{"scope not allowed", deviceBody(`,"scope":"openid admin"`), "invalid_client_metadata", "The scope 'admin' is not allowed"},
		{"redirect URIs for a device client", deviceBody(`,"redirect_uris":["https://app.example/cb"]`), "invalid_redirect_uri", "leave 'redirect_uris' out"},
		{"no redirect URI", `{"grant_types":["authorization_code"]}`, "invalid_redirect_uri", "at least one redirection URI"},
		{"relative redirect URI", `{"redirect_uris":["/cb"]}`, "invalid_redirect_uri", "not an absolute URI"},
		{"redirect URI with fragment", `{"redirect_uris":["https://app.example/cb#x"]}`, "invalid_redirect_uri", "fragment"},
		{"redirect URI with credentials", `{"redirect_uris":["https://user:pw@app.example/cb"]}`, "invalid_redirect_uri", "must not carry credentials"},
		{"http redirect URI", `{"redirect_uris":["http://app.example/cb"]}`, "invalid_redirect_uri", "loopback IP address"},
		{"localhost redirect URI", `{"redirect_uris":["http://localhost/cb"]}`, "invalid_redirect_uri", "loopback IP address"},
		{"javascript redirect URI", `{"redirect_uris":["javascript:alert(1)"]}`, "invalid_redirect_uri", "private-use scheme"},
		{"CIBA without delivery mode", deviceBody(ciba), "invalid_client_metadata", "must register 'backchannel_token_delivery_mode'"},
		{"CIBA unknown delivery mode", deviceBody(ciba + `,"backchannel_token_delivery_mode":"carrier-pigeon"`), "invalid_client_metadata", "'carrier-pigeon' is not supported"},
		{"CIBA ping without endpoint", deviceBody(ciba + `,"backchannel_token_delivery_mode":"ping"`), "invalid_client_metadata", "ping mode needs a 'backchannel_client_notification_endpoint'"},
		{"CIBA ping with http endpoint", deviceBody(ciba + `,"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"http://client.example/cb"`), "invalid_client_metadata", "'backchannel_client_notification_endpoint' must be an https URL"},
		{"CIBA ping with loopback http endpoint", deviceBody(ciba + `,"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"http://127.0.0.1/cb"`), "invalid_client_metadata", "must be an https URL"},
		{"CIBA poll with endpoint", deviceBody(ciba + `,"backchannel_token_delivery_mode":"poll","backchannel_client_notification_endpoint":"https://client.example/cb"`), "invalid_client_metadata", "ping and push modes only"},
		{"CIBA public client", `{"grant_types":["` + registration.GrantTypeCIBA + `"],"token_endpoint_auth_method":"none","backchannel_token_delivery_mode":"poll"}`, "invalid_client_metadata", "confidential clients only"},
		{"CIBA request signing alg none", deviceBody(ciba + `,"backchannel_token_delivery_mode":"poll","backchannel_authentication_request_signing_alg":"none"`), "invalid_client_metadata", "backchannel_authentication_request_signing_alg 'none' is not allowed"},
		{"CIBA metadata without CIBA", deviceBody(`,"backchannel_token_delivery_mode":"poll"`), "invalid_client_metadata", "'backchannel_token_delivery_mode' is CIBA metadata"},
		{"control character in name", deviceBody(`,"client_name":"a\u0007b"`), "invalid_client_metadata", "control characters"},
		{"long software_id", deviceBody(`,"software_id":"` + strings.Repeat("x", 300) + `"`), "invalid_client_metadata", "'software_id' is longer than"},
		{"empty contact", deviceBody(`,"contacts":[""]`), "invalid_client_metadata", "empty values"},
		{"extension out of range", deviceBody(`,"device_code_lifespan":1`), "invalid_client_metadata", "'device_code_lifespan' must be between 60 and 604800 seconds"},
		{"CIBA extension without CIBA", deviceBody(`,"backchannel_enrollment_fallback":true`), "invalid_client_metadata", "'backchannel_enrollment_fallback' is CIBA metadata"},
		{"CIBA extension of the wrong type", deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"poll","backchannel_enrollment_fallback":"yes"`), "invalid_client_metadata", "must be true or false"},
		{"extension of the wrong type", deviceBody(`,"device_code_lifespan":"1h"`), "invalid_client_metadata", "whole number of seconds"},
		{"dpop_bound_access_tokens of the wrong type", deviceBody(`,"dpop_bound_access_tokens":"yes"`), "invalid_client_metadata", "'dpop_bound_access_tokens' must be a boolean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := testPolicy().Parse([]byte(tc.body))
			require.Nil(t, m)
			rfc := fosite.ErrorToRFC6749Error(err)
			require.Equal(t, tc.code, rfc.ErrorField)
			require.Equal(t, 400, rfc.CodeField)
			require.Contains(t, rfc.HintField, tc.hint)
		})
	}
}

func TestParseLoopbackHTTPInDevelopment(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	p.AllowLoopbackHTTP = true
	body := deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"http://127.0.0.1:9000/cb"`)
	_, err := p.Parse([]byte(body))
	require.NoError(t, err)
	body = strings.Replace(body, "127.0.0.1", "client.example", 1)
	_, err = p.Parse([]byte(body))
	require.ErrorIs(t, err, registration.ErrInvalidClientMetadata, "only loopback hosts get the allowance")
}

// TestParseUserCodeParameterOnlyWhenSupported: a server that checks no CIBA user codes refuses clients
// that would send one with every request (and could make none), as its discovery document says.
func TestParseUserCodeParameterOnlyWhenSupported(t *testing.T) {
	t.Parallel()
	body := []byte(deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"poll","backchannel_user_code_parameter":true`))
	p := testPolicy()
	p.BackchannelUserCodeParameter = false
	m, err := p.Parse(body)
	require.Nil(t, m)
	rfc := fosite.ErrorToRFC6749Error(err)
	require.Equal(t, "invalid_client_metadata", rfc.ErrorField)
	require.Contains(t, rfc.HintField, "does not support 'backchannel_user_code_parameter'")
	require.False(t, registration.DefaultPolicy().BackchannelUserCodeParameter, "the default claims no support the grant may lack")

	p.BackchannelUserCodeParameter = true
	m, err = p.Parse(body)
	require.NoError(t, err)
	require.True(t, m.BackchannelUserCodeParameter)
}
