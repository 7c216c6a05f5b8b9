package registration_test

import (
	"net/http"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/registration"
)

// TestParseRefusesHostsTheServerMustNotCall: a jwks_uri or a CIBA notification endpoint on a
// loopback, private, link-local or reserved address (or "localhost") is refused outside development;
// in development only loopback is let through. DNS names are accepted: the outbound client judges
// the address they resolve to when it connects.
func TestParseRefusesHostsTheServerMustNotCall(t *testing.T) {
	t.Parallel()
	jwksURI := func(u string) string {
		return `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"` + u + `"}`
	}
	notification := func(u string) string {
		return deviceBody(`,"grant_types":["` + registration.GrantTypeCIBA + `"],"backchannel_token_delivery_mode":"ping","backchannel_client_notification_endpoint":"` + u + `"`)
	}
	for _, tc := range []struct {
		name     string
		url      string
		dev      bool
		accepted bool
	}{
		{"127.0.0.1", "https://127.0.0.1/jwks", false, false},
		{"[::1]", "https://[::1]/jwks", false, false},
		{"localhost", "https://localhost/jwks", false, false},
		{"localhost with a port", "https://localhost:8443/jwks", false, false},
		{"cloud metadata", "https://169.254.169.254/latest/meta-data", false, false},
		{"10.0.0.1", "https://10.0.0.1/jwks", false, false},
		{"192.168.1.1", "https://192.168.1.1/jwks", false, false},
		{"mapped loopback", "https://[::ffff:127.0.0.1]/jwks", false, false},
		{"NAT64 of a private address", "https://[64:ff9b::a00:1]/jwks", false, false},
		{"decimal notation of 127.0.0.1", "https://2130706433/jwks", false, false},
		{"unspecified", "https://0.0.0.0/jwks", false, false},
		{"a public address", "https://93.184.215.14/jwks", false, true},
		{"a DNS name", "https://client.example/jwks", false, true},
		{"127.0.0.1 in development", "https://127.0.0.1/jwks", true, true},
		{"http on loopback in development", "http://127.0.0.1:8091/cb", true, true},
		{"10.0.0.1 in development", "https://10.0.0.1/jwks", true, false},
		{"cloud metadata in development", "https://169.254.169.254/", true, false},
	} {
		for field, body := range map[string]func(string) string{"jwks_uri": jwksURI, "backchannel_client_notification_endpoint": notification} {
			t.Run(tc.name+"/"+field, func(t *testing.T) {
				t.Parallel()
				p := testPolicy()
				p.AllowLoopbackHTTP = tc.dev
				_, err := p.Parse([]byte(body(tc.url)))
				if tc.accepted {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, registration.ErrInvalidClientMetadata)
				rfc := fosite.ErrorToRFC6749Error(err)
				require.Equal(t, http.StatusBadRequest, rfc.CodeField)
				require.Contains(t, rfc.HintField, field)
			})
		}
	}
}
