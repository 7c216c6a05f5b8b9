package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// approveInBrowser walks a browser from the verification page through Hydra's login and consent: it
// types the code, confirms the device, signs in as user and, at the consent page, grants scopes (or
// denies when allow is false). It returns the last page and the URL it was served at.
func (e *env) approveInBrowser(t *testing.T, b *browser, da *oauth2.DeviceAuthResponse, user string, allow bool, scopes ...string) (int, *url.URL, string) {
	t.Helper()
	status, _, page := b.get(da.VerificationURIComplete)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, `id="check-code"`, "arriving by link warns about remote phishing (RFC 8628 §5.4)")
	status, _, page = b.postForm(e.url+"/device", url.Values{"csrf": {hidden(t, page, "csrf")}, "user_code": {da.UserCode}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Demo TV", "the confirmation names the client")
	require.Contains(t, page, "Go-http-client", "and shows the device's user agent")

	status, at, page := b.postForm(e.url+"/device/continue", url.Values{"csrf": {hidden(t, page, "csrf")}, "user_code": {da.UserCode}})
	require.Equal(t, http.StatusOK, status, page)
	require.Equal(t, "/login", at.Path, "Hydra sent the browser to the login app")
	require.Contains(t, page, "Demo TV", "Hydra's login request names the device's client")

	status, at, page = b.postForm(e.url+"/login", url.Values{"challenge": {hidden(t, page, "challenge")}, "username": {user},
		"password": {user + "-password"}, "action": {"signin"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Equal(t, "/consent", at.Path, "Hydra sent the browser to the consent app")
	require.Contains(t, page, "Demo TV")

	form := url.Values{"challenge": {hidden(t, page, "challenge")}, "action": {"deny"}}
	if allow {
		form.Set("action", "allow")
		for _, s := range scopes {
			form.Set("scope_"+s, "on")
		}
	}
	return b.postForm(e.url+"/consent", form)
}

// TestDeviceApprovalThroughHydraLoginAndConsent: the person approves a device code through Hydra's own
// login and consent flow (the login and consent app talks to Hydra's admin API, knowing nothing of
// devices); the grant is approved for the subject Hydra authenticated and only the scopes the consent
// granted, and the tokens belong to Hydra's consent session.
func TestDeviceApprovalThroughHydraLoginAndConsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauth2Config("demo-device", "", "openid", "profile", "email", "offline_access")
		da, err := cfg.DeviceAuth(ctx)
		require.NoError(t, err)
		da.Interval = 1

		b := newBrowser(t)
		status, _, page := e.approveInBrowser(t, b, da, "carol", true, "openid", "profile")
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, `<h1 id="result">Approved</h1>`)

		tok, err := cfg.DeviceAccessToken(ctx, da)
		require.NoError(t, err)
		require.Equal(t, "openid profile", tok.Extra("scope"), "only what the consent granted")
		require.Empty(t, tok.RefreshToken, "offline_access was not granted")
		claims := e.verifyIDToken(tok.Extra("id_token").(string))
		require.Equal(t, "carol", claims["sub"], "the subject Hydra's login authenticated")
		require.Equal(t, "Carol Danvers", claims["name"], "the consent session's ID token claims")
		require.NotContains(t, claims, "email", "email was not granted")
		require.NotEmpty(t, claims["sid"], "Hydra's login session")
		info := e.introspect(tok.AccessToken)
		require.Equal(t, true, info["active"])
		require.Equal(t, "carol", info["sub"])

		// Revoking carol's consent sessions in Hydra revokes the device's tokens: they belong to them.
		req, err := http.NewRequest(http.MethodDelete, e.url+"/admin/oauth2/auth/sessions/consent?subject=carol&all=true", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		require.Equal(t, false, e.introspect(tok.AccessToken)["active"], "revoking the consent revoked the token")
	})
}

// TestDeviceApprovalRefusals: a consent or login refused denies the device request; a link into the flow
// taken to another browser leads nowhere; a replayed step changes nothing and is no server error.
func TestDeviceApprovalRefusals(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteBackend)
	ctx := context.Background()
	cfg := e.oauth2Config("demo-device", "", "openid")
	accessDenied := func(t *testing.T, da *oauth2.DeviceAuthResponse) {
		t.Helper()
		_, err := cfg.DeviceAccessToken(ctx, da)
		var re *oauth2.RetrieveError
		require.True(t, errors.As(err, &re), "%v", err)
		require.Equal(t, "access_denied", re.ErrorCode)
	}

	t.Run("consent denied", func(t *testing.T) {
		da := e.deviceAuth("demo-device", "openid")
		status, _, page := e.approveInBrowser(t, newBrowser(t), da, "alice", false)
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, `<h1 id="result">Denied</h1>`)
		accessDenied(t, da)
	})

	t.Run("login cancelled", func(t *testing.T) {
		da := e.deviceAuth("demo-device", "openid")
		b := newBrowser(t)
		_, _, page := b.get(da.VerificationURIComplete)
		_, _, page = b.postForm(e.url+"/device", url.Values{"csrf": {hidden(t, page, "csrf")}, "user_code": {da.UserCode}})
		_, at, page := b.postForm(e.url+"/device/continue", url.Values{"csrf": {hidden(t, page, "csrf")}, "user_code": {da.UserCode}})
		require.Equal(t, "/login", at.Path)
		status, _, page := b.postForm(e.url+"/login", url.Values{"challenge": {hidden(t, page, "challenge")}, "action": {"deny"}})
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, `<h1 id="result">Denied</h1>`)
		accessDenied(t, da)
	})

	t.Run("the flow does not leave the browser that started it", func(t *testing.T) {
		da := e.deviceAuth("demo-device", "openid")
		victim := newBrowser(t)
		// The attacker starts the approval of their own device and sends the link Hydra's login app was
		// given to somebody else, hoping they sign in and consent.
		attacker := newBrowser(t)
		_, _, page := attacker.get(da.VerificationURIComplete)
		_, _, page = attacker.postForm(e.url+"/device", url.Values{"csrf": {hidden(t, page, "csrf")}, "user_code": {da.UserCode}})
		_, _, page = attacker.postForm(e.url+"/device/continue", url.Values{"csrf": {hidden(t, page, "csrf")}, "user_code": {da.UserCode}})
		challenge := hidden(t, page, "challenge")
		status, _, page := victim.get(e.url + "/login?login_challenge=" + url.QueryEscape(challenge))
		require.Equal(t, http.StatusOK, status, page)
		status, at, page := victim.postForm(e.url+"/login", url.Values{"challenge": {hidden(t, page, "challenge")},
			"username": {"alice"}, "password": {"alice-password"}, "action": {"signin"}})
		require.NotEqual(t, "/consent", at.Path, "the victim never reaches a consent for the attacker's device")
		require.Less(t, status, 500, page)
		require.Contains(t, page, `<h1 id="result">Not completed</h1>`)
		status, body := e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "authorization_pending", body["error"], "nothing was decided")
	})

	t.Run("a forged or foreign cookie is refused", func(t *testing.T) {
		da := e.deviceAuth("demo-device", "openid")
		for name, cookie := range map[string]string{"garbage": "x", "empty": "", "long": strings.Repeat("A", 5000)} {
			req, err := http.NewRequest(http.MethodGet, e.url+"/oauth2/auth?client_id=demo-device&device_request=whatever", nil)
			require.NoError(t, err)
			req.AddCookie(&http.Cookie{Name: "grants_device_approval", Value: cookie})
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err, name)
			_ = res.Body.Close()
			require.Equal(t, http.StatusBadRequest, res.StatusCode, name)
		}
		status, body := e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "authorization_pending", body["error"])
	})

	t.Run("a replayed consent verifier changes nothing", func(t *testing.T) {
		da := e.deviceAuth("demo-device", "openid")
		b := newBrowser(t)
		var last *url.URL
		b.client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Query().Has("consent_verifier") {
				last = req.URL
			}
			return http.ErrUseLastResponse
		}
		status, _, page := e.approveInBrowser(t, b, da, "bob", true, "openid")
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, `<h1 id="result">Approved</h1>`)
		require.NotNil(t, last)
		status, _, page = b.get(last.String())
		require.GreaterOrEqual(t, status, 400, page)
		require.Less(t, status, 500, page)
		status, body := e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusOK, status, "the approval stands: %v", body)
	})
}
