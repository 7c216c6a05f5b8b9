package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/scopechoice"
)

// Seed 002's "choose the access level and profile": a device asks for "photos" and "health"; the
// approval page asks how much and whose; the token's scope is what the person chose.

var (
	photosLevel   = scopechoice.FieldName("photos", "level")
	healthLevel   = scopechoice.FieldName("health", "level")
	healthProfile = scopechoice.FieldName("health", "profile")
)

func TestDeviceScopeChoices(t *testing.T) {
	t.Parallel()
	e := start(t)
	da := deviceAuthorization(t, e, "demo-device", "openid photos health offline_access", tvUserAgent, nil)
	code, deviceCode := da["user_code"].(string), da["device_code"].(string)
	b := e.browser("alice", "alice-password")
	status, page := b.get("/device?entered=1&user_code=" + url.QueryEscape(code))
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{"What may it do with your photos?", "See them and delete them", "Which record?", "Your family&#39;s shared record",
		`name="` + photosLevel + `" id="` + photosLevel + `:read" value="read" checked`} {
		require.Contains(t, page, want)
	}

	// A form without an answer (or with an answer that is no option) changes nothing.
	form := url.Values{"csrf": {csrfOf(t, page)}, "user_code": {code}, "action": {"approve"}, "scope": {"openid", "photos", "health", "offline_access"},
		photosLevel: {"admin"}, healthLevel: {"read"}, healthProfile: {"family"}}
	status, _ = b.postForm("/device", form)
	require.Equal(t, http.StatusBadRequest, status)
	form.Del(photosLevel)
	status, _ = b.postForm("/device", form)
	require.Equal(t, http.StatusBadRequest, status)
	_, body := e.poll("demo-device", deviceCode)
	require.Equal(t, "authorization_pending", body["error"])

	form.Set(photosLevel, "manage")
	status, page = b.postForm("/device", form)
	require.Equal(t, http.StatusOK, status, page)
	status, body = e.poll("demo-device", deviceCode)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "openid photos:manage health:read:family offline_access", body["scope"], "RFC 6749 §5.1: the scope granted")
	require.True(t, e.active(body["access_token"].(string)))

	// The chosen scopes survive a refresh (fosite checks them against the client's).
	status, refreshed := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"demo-device"},
		"refresh_token": {body["refresh_token"].(string)}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", refreshed)
	require.Equal(t, "openid photos:manage health:read:family offline_access", refreshed["scope"])
}

func TestDeviceScopeChoiceNotKept(t *testing.T) {
	t.Parallel()
	e := start(t)
	da := deviceAuthorization(t, e, "demo-device", "openid photos", tvUserAgent, nil)
	b := e.browser("alice", "alice-password")
	_, page := b.get("/device?entered=1&user_code=" + url.QueryEscape(da["user_code"].(string)))
	status, page := b.postForm("/device", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {da["user_code"].(string)}, "action": {"approve"},
		"scope": {"openid"}, photosLevel: {"manage"}})
	require.Equal(t, http.StatusOK, status, page)
	_, body := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, "openid", body["scope"], "an unticked scope is not granted, whatever its answer")
}

// TestDeviceScopeChoicesInChromium: a person on a phone chooses "See them and delete them".
func TestDeviceScopeChoicesInChromium(t *testing.T) {
	ctx := headless(t)
	e := start(t)
	require.NoError(t, chromedp.Run(ctx, phone()))
	da := deviceAuthorization(t, e, "demo-device", "openid photos", tvUserAgent, nil)
	signInChromium(t, ctx, e, "alice", "/device?user_code="+url.QueryEscape(da["user_code"].(string)))
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible(`[id="`+photosLevel+`:manage"]`, chromedp.ByQuery),
	))
	fitsPhone(t, ctx, "device page with a choice")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click(`[id="`+photosLevel+`:manage"]`, chromedp.ByQuery),
		chromedp.Click("#allow", chromedp.ByQuery),
		chromedp.WaitVisible("#done", chromedp.ByQuery),
	))
	status, body := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "openid photos:manage", body["scope"])
}

// TestConsentScopeChoices: the authorization code flow's consent page asks the same questions.
func TestConsentScopeChoices(t *testing.T) {
	t.Parallel()
	e := start(t)
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {"demo-confidential"}, "redirect_uri": {"http://127.0.0.1:9999/callback"}, "response_type": {"code"},
		"scope": {"openid health"}, "state": {"state-1234567890"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	b := noRedirectBrowser(t, e, "alice")
	authURL := e.url + "/oauth2/auth?" + q.Encode()
	resp, err := b.c.Get(authURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(page), "What may it do with the health record?")

	// No answer: the page again, with what to do, and no code.
	resp, err = b.c.PostForm(authURL, url.Values{"csrf": {csrfOf(t, string(page))}, "consent": {"allow"}, healthLevel: {"write"}})
	require.NoError(t, err)
	again, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(again), "An answer was missing")
	require.Contains(t, string(again), `value="write" checked`, "the answer given is kept")

	resp, err = b.c.PostForm(authURL, url.Values{"csrf": {csrfOf(t, string(page))}, "consent": {"allow"}, healthLevel: {"write"}, healthProfile: {"own"}})
	require.NoError(t, err)
	resp.Body.Close()
	back, err := resp.Location()
	require.NoError(t, err)
	cfg := oauth2.Config{ClientID: "demo-confidential", ClientSecret: "demo-secret", RedirectURL: "http://127.0.0.1:9999/callback",
		Endpoint: oauth2.Endpoint{TokenURL: e.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	require.Equal(t, "openid health:write:own", tok.Extra("scope"))
}
