package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// TestDeviceGrantWithXOAuth2 runs RFC 8628 end to end inside Hydra with golang.org/x/oauth2, unmodified,
// as a TV would, approving through the scripted admin API; then checks that the tokens are Hydra's:
// Hydra's admin introspection knows them, Hydra's userinfo accepts them, Hydra's refresh grant refreshes
// them and Hydra's revocation endpoint revokes them.
func TestDeviceGrantWithXOAuth2(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauth2Config("demo-device", "", "openid", "profile", "email", "offline_access")

		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		require.Regexp(t, `^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`, da.UserCode)
		require.Equal(t, e.url+"/device", da.VerificationURI)
		require.Equal(t, e.url+"/device?user_code="+da.UserCode, da.VerificationURIComplete)
		require.EqualValues(t, 1, da.Interval)

		status, body := e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "authorization_pending", body["error"])

		status, body = e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status, "%v", body)

		tok, err := cfg.DeviceAccessToken(ctx, da)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(tok.AccessToken, "ory_at_"), "Hydra's access token format: %s", tok.AccessToken)
		require.True(t, strings.HasPrefix(tok.RefreshToken, "ory_rt_"), "offline_access was granted: a Hydra refresh token")
		claims := e.verifyIDToken(tok.Extra("id_token").(string))
		require.Equal(t, "alice", claims["sub"])
		require.Equal(t, e.url+"/", claims["iss"], "Hydra's issuer")
		require.Equal(t, []any{"demo-device"}, claims["aud"])
		require.Equal(t, "Alice Liddell", claims["name"])

		info := e.introspect(tok.AccessToken)
		require.Equal(t, true, info["active"], "Hydra's admin introspection knows the token")
		require.Equal(t, "demo-device", info["client_id"])
		require.Equal(t, "alice", info["sub"])
		require.Equal(t, "openid profile email offline_access", info["scope"])

		status, ui := e.userinfo(tok.AccessToken)
		require.Equal(t, http.StatusOK, status, "Hydra's userinfo accepts the token: %v", ui)
		require.Equal(t, "alice", ui["sub"])
		require.Equal(t, "alice@example.com", ui["email"])

		// Hydra's own refresh grant refreshes what the device grant issued.
		tok.Expiry = time.Now().Add(-time.Minute)
		fresh, err := cfg.TokenSource(ctx, tok).Token()
		require.NoError(t, err)
		require.NotEqual(t, tok.AccessToken, fresh.AccessToken)
		require.Equal(t, true, e.introspect(fresh.AccessToken)["active"])
		require.Equal(t, false, e.introspect(tok.AccessToken)["active"], "refreshing rotated the old access token out")

		// Hydra's revocation endpoint revokes the refresh token and the access tokens of its grant.
		status, _ = e.postRaw("/oauth2/revoke", url.Values{"token": {fresh.RefreshToken}, "client_id": {"demo-device"}})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, false, e.introspect(fresh.AccessToken)["active"], "revoked through Hydra")

		// The device code was spent.
		status, body = e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})
}

// TestDeviceReplayRevokesHydraTokens: a device code presented again gets invalid_grant, and the tokens
// its redemption issued are revoked in Hydra (RFC 6749 §4.1.2's defence, applied to device codes).
func TestDeviceReplayRevokesHydraTokens(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteBackend)
	da := e.deviceAuth("demo-device", "openid offline_access")
	status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"bob"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, first := e.pollDevice("demo-device", da.DeviceCode)
	require.Equal(t, http.StatusOK, status, "%v", first)
	require.Equal(t, true, e.introspect(first["access_token"].(string))["active"])

	status, body = e.pollDevice("demo-device", da.DeviceCode)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", body["error"])
	require.Equal(t, false, e.introspect(first["access_token"].(string))["active"], "the replay revoked the access token")
	status, body = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"demo-device"},
		"refresh_token": {first["refresh_token"].(string)}}, "", "")
	require.Equal(t, http.StatusBadRequest, status, "the replay revoked the refresh token: %v", body)
}

// TestDeviceGrantErrors: what a device, or somebody guessing, sees besides success.
func TestDeviceGrantErrors(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteBackend)
	ctx := context.Background()

	t.Run("denied", func(t *testing.T) {
		cfg := e.oauth2Config("demo-device", "", "openid")
		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		status, body := e.admin("/admin/device/deny", url.Values{"user_code": {da.UserCode}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		da.Interval = 1
		_, err = cfg.DeviceAccessToken(ctx, da)
		var re *oauth2.RetrieveError
		require.True(t, errors.As(err, &re), "%v", err)
		require.Equal(t, "access_denied", re.ErrorCode)
	})

	t.Run("unknown client at the device endpoint", func(t *testing.T) {
		status, body := e.post("/oauth2/device/auth", url.Values{"client_id": {"nobody"}, "scope": {"openid"}}, "", "")
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "invalid_client", body["error"])
	})

	t.Run("a client without the grant type", func(t *testing.T) {
		status, body := e.post("/oauth2/device/auth", url.Values{"scope": {"openid"}}, "demo-ciba-poll", "demo-ciba-secret")
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "unauthorized_client", body["error"])
	})

	t.Run("a scope the client may not have", func(t *testing.T) {
		status, body := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid admin"}}, "", "")
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_scope", body["error"])
	})

	t.Run("unknown device code", func(t *testing.T) {
		status, body := e.pollDevice("demo-device", "not-a-device-code")
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})

	t.Run("wrong user code at the admin API", func(t *testing.T) {
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {"BBBB-BBBB"}, "subject": {"alice"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_user_code", body["error"])
	})

	t.Run("the admin API needs the admin token, Hydra's too", func(t *testing.T) {
		for _, path := range []string{"/admin/device/approve", "/admin/oauth2/introspect", "/admin/clients"} {
			status, body := e.post(path, url.Values{"user_code": {"BBBB-BBBB"}}, "", "")
			require.Equal(t, http.StatusUnauthorized, status, path)
			require.Equal(t, "invalid_token", body["error"], path)
		}
	})

	t.Run("repeated parameters at the admin API", func(t *testing.T) {
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {"BBBB-BBBB", "CCCC-CCCC"}, "subject": {"alice"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_request", body["error"])
	})
}

// deviceAuth starts a device flow without x/oauth2 (for clients and checks it cannot make).
func (e *env) deviceAuth(clientID, scope string) *oauth2.DeviceAuthResponse {
	e.t.Helper()
	status, body := e.post("/oauth2/device/auth", url.Values{"client_id": {clientID}, "scope": {scope}}, "", "")
	require.Equal(e.t, http.StatusOK, status, "%v", body)
	return &oauth2.DeviceAuthResponse{DeviceCode: body["device_code"].(string), UserCode: body["user_code"].(string),
		VerificationURIComplete: body["verification_uri_complete"].(string), Interval: 1}
}

// postRaw sends a form and returns only the status and the body as text.
func (e *env) postRaw(path string, form url.Values) (int, string) {
	e.t.Helper()
	res, err := http.PostForm(e.url+path, form)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return res.StatusCode, string(b)
}
