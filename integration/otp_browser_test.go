package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds a Chromium for browser tests: $GRANTS_CHROMIUM (set by .ci/chromium.sh), else
// chromium on the PATH. It skips the test, saying how to get one, when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GRANTS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium installed: run `source .ci/chromium.sh` (installs Debian's chromium) or set GRANTS_CHROMIUM")
	return ""
}

// headless starts a headless Chromium with the flags this machine's closed network needs and a fresh
// profile, and returns a browser context that ends with the test. A browser that fails to start is
// started again, up to three times: on a loaded 2-core machine Chromium's start-up occasionally dies
// before the first page (this says nothing about the pages under test).
func headless(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var ctx context.Context
		if ctx, err = startChromium(t, path); err == nil {
			return ctx
		}
		t.Logf("Chromium did not start (attempt %d): %v", attempt, err)
	}
	require.NoError(t, err, "start Chromium at %s", path)
	return nil
}

// startChromium starts one browser; on failure it leaves nothing behind.
func startChromium(t *testing.T, path string) (context.Context, error) {
	// Not t.TempDir: Chromium's helper processes may still write to the profile after the browser has
	// exited, which would fail the test in TempDir's cleanup. Removal is best effort.
	profile, err := os.MkdirTemp("", "grants-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	stop := func() {
		cancel()
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	}
	if err := chromedp.Run(ctx); err != nil {
		stop()
		return nil, err
	}
	t.Cleanup(stop)
	return ctx, nil
}

// TestOTPKioskPageInChromium drives the kiosk page (the demo CLIENT at /demo/kiosk) in real headless
// Chromium, as the customer at the hardware store would: type the address, pick e-mail, read the code
// from the mail that reached the (real, in-process) SMTP server, type it, and see the granted access.
//
// The browser tests do not run in parallel: a headless Chromium is heavy for a 2-core CI machine.
func TestOTPKioskPageInChromium(t *testing.T) {
	ctx := headless(t)
	smtp, opt := withSMTP(t)
	e := start(t, opt)

	var label, channels string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/demo/kiosk"),
		chromedp.Text("#client-label", &label, chromedp.ByQuery),
		chromedp.SendKeys("#login_hint", "1 Main St", chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#channel-email-1", chromedp.ByQuery),
		chromedp.Text("form", &channels, chromedp.ByQuery),
		chromedp.Click("#channel-email-1", chromedp.ByQuery),
		chromedp.Click("#send", chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByQuery),
	))
	require.Contains(t, label, "DEMO CLIENT")
	require.Contains(t, channels, "Text message to ***-***-4567")
	require.Contains(t, channels, "E-mail to a***@e***.com")

	m := smtp.Next(t)
	require.Equal(t, []string{"alice@example.com"}, m.To)
	code := codeFrom(t, m)

	var subject, scopes string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SendKeys("#code", code, chromedp.ByQuery),
		chromedp.Click("#verify", chromedp.ByQuery),
		chromedp.WaitVisible("#granted", chromedp.ByQuery),
		chromedp.Text("#subject", &subject, chromedp.ByQuery),
		chromedp.Text("#scopes", &scopes, chromedp.ByQuery),
	))
	require.Equal(t, "alice", strings.TrimSpace(subject))
	for _, s := range []string{"Confirm who you are", "See your name", "See your energy use"} {
		require.Contains(t, scopes, s, "the granted access is in words")
	}
}

// TestOTPKioskPageWrongCode: a mistyped code keeps the person on the code step with the server's
// message, and the right code still works.
func TestOTPKioskPageWrongCode(t *testing.T) {
	ctx := headless(t)
	smtp, opt := withSMTP(t)
	e := start(t, opt)
	require.NoError(t, chromedp.Run(ctx,
		phone(),
		chromedp.Navigate(e.url+"/demo/kiosk"),
		chromedp.SendKeys("#login_hint", "ACCT-1002", chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#channel-email-1", chromedp.ByQuery),
		chromedp.Click("#channel-email-1", chromedp.ByQuery),
		chromedp.Click("#send", chromedp.ByQuery),
		chromedp.WaitVisible("#code", chromedp.ByQuery),
	))
	code := codeFrom(t, smtp.Next(t))
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	var errText, subject string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SendKeys("#code", wrong, chromedp.ByQuery),
		chromedp.Click("#verify", chromedp.ByQuery),
		chromedp.WaitVisible("#error", chromedp.ByQuery),
		chromedp.Text("#error", &errText, chromedp.ByQuery),
	))
	fitsPhone(t, ctx, "OTP kiosk after a wrong code")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SendKeys("#code", code, chromedp.ByQuery),
		chromedp.Click("#verify", chromedp.ByQuery),
		chromedp.WaitVisible("#granted", chromedp.ByQuery),
		chromedp.Text("#subject", &subject, chromedp.ByQuery),
	))
	require.True(t, strings.HasPrefix(strings.TrimSpace(errText), "4 attempts left."), "the attempts left come first: %q", errText)
	require.Contains(t, errText, "That code is not right.")
	require.Contains(t, errText, "b***@e***.com", "it says where to look for the code")
	require.NotContains(t, errText, "invalid_grant")
	require.NotContains(t, errText, "The provided authorization grant")
	require.Equal(t, "bob", strings.TrimSpace(subject))
}
