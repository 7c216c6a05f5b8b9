package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDiscoveryListsTheGrants: Hydra's discovery document, at both well-known addresses, lists the
// grants' endpoints and grant types next to Hydra's own.
func TestDiscoveryListsTheGrants(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteBackend)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		res, err := http.Get(e.url + path)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
		_ = res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.Equal(t, "application/json", res.Header.Get("Content-Type"))

		require.Equal(t, e.url+"/", doc["issuer"], "Hydra's issuer")
		require.Equal(t, e.url+"/oauth2/token", doc["token_endpoint"], "Hydra's token endpoint serves the grants")
		require.Equal(t, e.url+"/oauth2/auth", doc["authorization_endpoint"])
		require.Equal(t, e.url+"/userinfo", doc["userinfo_endpoint"])
		require.Equal(t, e.url+"/oauth2/device/auth", doc["device_authorization_endpoint"], "RFC 8628 §4")
		require.Equal(t, e.url+"/oauth2/bc-authorize", doc["backchannel_authentication_endpoint"], "CIBA Core §4")
		require.Equal(t, []any{"poll", "ping", "push"}, doc["backchannel_token_delivery_modes_supported"])
		require.Equal(t, []any{
			"authorization_code", "implicit", "client_credentials", "refresh_token", // Hydra's
			"urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba",
			"https://github.com/fosite-contrib/grants/grant-type/otp",
		}, doc["grant_types_supported"])
		require.Equal(t, e.url+"/oauth2/otp", doc["otp_challenge_endpoint"])
	}
}
