package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestSignInReturnToInChromium signs in through /login?return_to=<attack> in real headless Chromium for
// each attack and checks that the browser ends on the server's own home page, and that another origin
// (a real server on another port, which records visits) was never reached. Chromium applies the URL
// Standard's rules (tabs and newlines removed, backslashes read as slashes) that made
// "/\t/other-origin" leave the site.
func TestSignInReturnToInChromium(t *testing.T) {
	ctx := headless(t)
	e := start(t)
	var visits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		visits.Add(1)
		fmt.Fprint(rw, "<!doctype html><title>other origin</title>other origin")
	}))
	t.Cleanup(evil.Close)
	evilHost := strings.TrimPrefix(evil.URL, "http://")

	for name, attack := range returnToAttacks(evilHost) {
		t.Run(name, func(t *testing.T) {
			var href, origin string
			require.NoError(t, chromedp.Run(ctx,
				chromedp.Navigate(e.url+"/login?return_to="+url.QueryEscape(attack)),
				chromedp.WaitVisible("#username", chromedp.ByQuery),
				chromedp.SendKeys("#username", "alice", chromedp.ByQuery),
				chromedp.SendKeys("#password", "alice-password", chromedp.ByQuery),
				chromedp.Click("#signin", chromedp.ByQuery),
				chromedp.WaitNotPresent("#signin", chromedp.ByQuery),
				chromedp.Location(&href),
				chromedp.Evaluate("location.origin", &origin),
			))
			require.Equal(t, e.url, origin, "ended on %s", href)
			require.Equal(t, e.url+"/", href)
		})
	}
	require.Zero(t, visits.Load(), "the other origin was visited")

	// A return path of the server's own is followed.
	var href string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/login?return_to="+url.QueryEscape("/device?user_code=WDJB-MJHT")),
		chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.SendKeys("#username", "alice", chromedp.ByQuery),
		chromedp.SendKeys("#password", "alice-password", chromedp.ByQuery),
		chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitNotPresent("#signin", chromedp.ByQuery),
		chromedp.Location(&href),
	))
	require.Equal(t, e.url+"/device?user_code=WDJB-MJHT", href)
}
