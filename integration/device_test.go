package integration

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// TestDeviceFlowWithXOAuth2 runs RFC 8628 end to end with golang.org/x/oauth2, unmodified, as a TV
// would: ask for codes, show them, the person approves on the verification page in a browser, the
// device polls and gets tokens; then the tokens work at userinfo and refresh.
func TestDeviceFlowWithXOAuth2(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	cfg := e.oauth2Config("demo-device", "", "openid", "profile", "offline_access")

	da, err := cfg.DeviceAuth(ctx)
	require.NoError(t, err)
	require.Regexp(t, `^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`, da.UserCode)
	require.Equal(t, e.url+"/device", da.VerificationURI)
	require.Equal(t, e.url+"/device?user_code="+da.UserCode, da.VerificationURIComplete)
	require.EqualValues(t, 1, da.Interval)
	require.WithinDuration(t, time.Now().Add(10*time.Minute), da.Expiry, time.Minute)

	// Before the person acts, the device is told to wait.
	status, body := e.poll("demo-device", da.DeviceCode)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "authorization_pending", body["error"])

	// The person scans the QR code (verification_uri_complete), signs in, checks the code and approves.
	b := e.browser("alice", "alice-password")
	status, page := b.get("/device?user_code=" + url.QueryEscape(da.UserCode))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, da.UserCode, "the page shows the code so the person can compare it with the device")
	require.Contains(t, page, "Check the code", "arriving by link warns about remote phishing (RFC 8628 §5.4)")
	require.Contains(t, page, "demo-device")
	require.Contains(t, page, "127.0.0.1", "the device's address is shown")
	require.Contains(t, page, "Go-http-client", "the device's user agent is shown")
	status, page = b.postForm("/device", url.Values{
		"csrf": {csrfOf(t, page)}, "user_code": {da.UserCode}, "action": {"approve"},
		"scope": {"openid", "profile", "offline_access"},
	})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "Device connected")

	// e.clock is only the grants' clock; x/oauth2 waits its interval (1s here) in real time.
	tok, err := cfg.DeviceAccessToken(ctx, da)
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.NotEmpty(t, tok.RefreshToken, "offline_access was granted and the client has refresh_token")
	require.Equal(t, "bearer", strings.ToLower(tok.TokenType))
	idToken, _ := tok.Extra("id_token").(string)
	require.NotEmpty(t, idToken)
	claims := verifyIDToken(t, e, idToken)
	require.Equal(t, "alice", claims.Subject)
	require.Equal(t, e.url, claims.Issuer)
	require.Contains(t, claims.Audience, "demo-device")

	// The access token works at userinfo.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	status, info := e.do(req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice", info["sub"])
	require.Equal(t, "Alice Liddell", info["name"])

	// The refresh token works with fosite's own refresh grant.
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, tok).Token()
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, fresh.AccessToken)
}

func verifyIDToken(t *testing.T, e *env, raw string) *jwt.Claims {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/.well-known/jwks.json", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, jsonDecode(resp.Body, &set))
	tok, err := jwt.ParseSigned(raw)
	require.NoError(t, err)
	require.Len(t, tok.Headers, 1)
	keys := set.Key(tok.Headers[0].KeyID)
	require.Len(t, keys, 1, "the ID token's kid is in the JWKS")
	var c jwt.Claims
	require.NoError(t, tok.Claims(keys[0].Key, &c))
	require.NoError(t, c.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, time.Minute))
	return &c
}

// TestDeviceFlowConfidentialClient: a confidential client MUST authenticate at the device authorization
// endpoint (RFC 8628 §3.1), with Basic here, and may then omit client_id from the body. x/oauth2's
// DeviceAuth never sends a secret (it treats every device client as public), so such a client is refused
// there with invalid_client, as the RFC requires; the test makes that request itself and lets x/oauth2
// poll, which does authenticate.
func TestDeviceFlowConfidentialClient(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := context.Background()
	cfg := e.oauth2Config("demo-confidential", "demo-secret", "openid", "email")
	_, err := cfg.DeviceAuth(ctx)
	re := retrieveError(t, err)
	require.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
	require.Contains(t, string(re.Body), `"error":"invalid_client"`)

	status, body := e.post("/oauth2/device/auth", url.Values{"scope": {"openid email"}},
		http.Header{"Authorization": {basic("demo-confidential", "demo-secret")}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	da := &oauth2.DeviceAuthResponse{DeviceCode: body["device_code"].(string), UserCode: body["user_code"].(string), Interval: 1}
	status, body = e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"bob"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	tok, err := cfg.DeviceAccessToken(ctx, da)
	require.NoError(t, err)
	require.Empty(t, tok.RefreshToken, "offline_access was not requested")
	require.Equal(t, "bob", verifyIDToken(t, e, tok.Extra("id_token").(string)).Subject)
}

func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "error %v", err)
	return re
}

// TestDeviceFlowOutcomes covers what a device sees besides success.
func TestDeviceFlowOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		cfg := e.oauth2Config("demo-device", "", "openid")
		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		b := e.browser("bob", "bob-password")
		_, page := b.get("/device?entered=1&user_code=" + url.QueryEscape(strings.ToLower(strings.ReplaceAll(da.UserCode, "-", " "))))
		require.NotContains(t, page, "Check the code", "a typed code needs no phishing warning")
		status, page := b.postForm("/device", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {da.UserCode}, "action": {"deny"}})
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Request denied")
		_, err = cfg.DeviceAccessToken(ctx, da)
		re := retrieveError(t, err)
		require.Equal(t, "access_denied", re.ErrorCode)
		require.Equal(t, http.StatusBadRequest, re.Response.StatusCode)
	})

	t.Run("expired before anyone acted", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		cfg := e.oauth2Config("demo-device", "", "openid")
		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		e.clock.Add(10*time.Minute + time.Second)
		_, err = cfg.DeviceAccessToken(ctx, da)
		require.Equal(t, "expired_token", retrieveError(t, err).ErrorCode)
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_user_code", body["error"], "an expired code can not be approved")
	})

	t.Run("slow_down raises the interval by 5 seconds", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		cfg := e.oauth2Config("demo-device", "", "openid")
		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		_, body := e.poll("demo-device", da.DeviceCode)
		require.Equal(t, "authorization_pending", body["error"], "the first poll is never too early")
		_, body = e.poll("demo-device", da.DeviceCode)
		require.Equal(t, "slow_down", body["error"])
		e.clock.Add(2 * time.Second) // the old 1s interval has passed, the raised 6s one has not
		_, body = e.poll("demo-device", da.DeviceCode)
		require.Equal(t, "slow_down", body["error"], "the raised interval holds for later requests")
		e.clock.Add(11 * time.Second)
		_, body = e.poll("demo-device", da.DeviceCode)
		require.Equal(t, "authorization_pending", body["error"])
	})

	t.Run("replay is refused and revokes the tokens", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		cfg := e.oauth2Config("demo-device", "", "openid", "offline_access")
		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		status, _ := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status)
		status, first := e.poll("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusOK, status)
		require.True(t, e.active(first["access_token"].(string)))

		status, body := e.poll("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
		require.False(t, e.active(first["access_token"].(string)), "a replayed device code revokes what it issued")
		status, body = e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"demo-device"},
			"refresh_token": {first["refresh_token"].(string)}}, nil)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})

	t.Run("another client's device code", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		da, err := e.oauth2Config("demo-device", "", "openid").DeviceAuth(ctx)
		require.NoError(t, err)
		status, _ := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status)
		status, body := e.post("/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {da.DeviceCode}}, http.Header{"Authorization": {basic("demo-confidential", "demo-secret")}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
		status, _ = e.poll("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusOK, status, "the rightful client still redeems it")
	})

	t.Run("unknown device code", func(t *testing.T) {
		t.Parallel()
		e := start(t)
		status, body := e.poll("demo-device", "not-a-device-code")
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})
}

func (e *env) active(token string) bool {
	e.t.Helper()
	status, body := e.post("/oauth2/introspect", url.Values{"token": {token}},
		http.Header{"Authorization": {basic("demo-confidential", "demo-secret")}})
	require.Equal(e.t, http.StatusOK, status, "%v", body)
	return body["active"] == true
}

func basic(id, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}
