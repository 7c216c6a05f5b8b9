package main

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium starts a headless Chromium ($GRANTS_CHROMIUM, else chromium on the PATH) with a fresh
// profile and returns a browser context that ends with the test; it skips the test when there is none.
// A browser that dies while starting (it happens on a loaded 2-core machine) is started again, up to
// three times.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("GRANTS_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Skip("no Chromium installed: set GRANTS_CHROMIUM or put chromium on the PATH (.ci/chromium.sh installs it)")
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		profile, perr := os.MkdirTemp("", "grants-hydra-chromium-")
		require.NoError(t, perr)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile))
		bctx, cancelBrowser := chromedp.NewContext(actx)
		ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
		stop := func() { cancel(); cancelBrowser(); cancelAlloc(); _ = os.RemoveAll(profile) }
		if err = chromedp.Run(ctx); err == nil {
			t.Cleanup(stop)
			return ctx
		}
		stop()
	}
	require.NoError(t, err, "start Chromium at %s", path)
	return nil
}

// TestDeviceApprovalInChromium: a TV (golang.org/x/oauth2) shows its code; a person opens the link in
// real headless Chromium, checks the device, signs in at the login app and consents at the consent app
// Hydra sends them to; the TV gets Hydra's tokens for that person.
func TestDeviceApprovalInChromium(t *testing.T) {
	ctx := chromium(t)
	e := start(t, sqliteBackend)
	cfg := e.oauth2Config("demo-device", "", "openid", "profile", "offline_access")
	da, err := cfg.DeviceAuth(context.Background())
	require.NoError(t, err)

	var client, loginClient, consentClient, result string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(da.VerificationURIComplete),
		chromedp.WaitVisible("#check-code", chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#confirm", chromedp.ByQuery),
		chromedp.Text("#client", &client, chromedp.ByQuery),
		chromedp.Click("#confirm", chromedp.ByQuery),
		chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.Text("#login-client", &loginClient, chromedp.ByQuery),
		chromedp.SendKeys("#username", "alice", chromedp.ByQuery),
		chromedp.SendKeys("#password", "alice-password", chromedp.ByQuery),
		chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitVisible("#allow", chromedp.ByQuery),
		chromedp.Text("#consent-client", &consentClient, chromedp.ByQuery),
		chromedp.Click("#scope-offline_access", chromedp.ByQuery), // the person declines offline access
		chromedp.Click("#allow", chromedp.ByQuery),
		chromedp.WaitVisible("#result", chromedp.ByQuery),
		chromedp.Text("#result", &result, chromedp.ByQuery),
	))
	require.Equal(t, "Demo TV", client)
	require.Equal(t, "Demo TV", loginClient, "Hydra's login request names the device's client")
	require.Equal(t, "Demo TV", consentClient)
	require.Equal(t, "Approved", result)

	da.Interval = 1
	tok, err := cfg.DeviceAccessToken(context.Background(), da)
	require.NoError(t, err)
	require.Equal(t, "openid profile", tok.Extra("scope"))
	require.Empty(t, tok.RefreshToken, "offline_access was unticked at the consent page")
	require.Equal(t, "alice", e.verifyIDToken(tok.Extra("id_token").(string))["sub"])
	require.Equal(t, true, e.introspect(tok.AccessToken)["active"])
}
