package registration_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/outbound"
)

// FuzzParse checks the metadata parser on attacker input: it never panics, every refusal is a 400
// invalid_client_metadata or invalid_redirect_uri, and whatever it accepts it accepts again, unchanged,
// from its own encoding (the registration response).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		deviceBody(""),
		deviceBody(`,"device_code_lifespan":600,"contacts":["a@b.c"]`),
		`{"redirect_uris":["https://app.example/cb","com.example.app:/cb"],"token_endpoint_auth_method":"none"}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` + rsaPublicJWK + `]}}`,
		deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"https://c.example/cb"`),
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://c.example/jwks"}`,
		`{"jwks":{"keys":[` + ecPrivateJWK + `,` + octJWK + `]},"jwks_uri":"x"}`,
		`{"response_types":["code id_token"],"grant_types":["implicit","authorization_code"],"redirect_uris":["http://127.0.0.1/"]}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://10.0.0.1/jwks"}`,
		`null`, `[]`, `{"scope":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p := testPolicy()
		p.GrantTypes = append(p.GrantTypes, "implicit")
		m, err := p.Parse(body)
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			require.Equal(t, http.StatusBadRequest, rfc.CodeField)
			require.Contains(t, []string{"invalid_client_metadata", "invalid_redirect_uri"}, rfc.ErrorField)
			return
		}
		for _, u := range []string{m.JWKSURI, m.BackchannelClientNotificationEndpoint} {
			if u != "" {
				require.NoError(t, outbound.CheckURL(u, p.AllowLoopbackHTTP), "an accepted URL the server will call: %q", u)
			}
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		again, err := p.Parse(b)
		require.NoError(t, err, "accepted metadata must re-validate: %s", b)
		b2, err := json.Marshal(again)
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(b2))
	})
}
