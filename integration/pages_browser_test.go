package integration

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// updateScreenshots rewrites the README's screenshots (docs/*.png) from the browser tests:
//
//	go test ./integration -run 'Chromium' -update-screenshots
var updateScreenshots = flag.Bool("update-screenshots", false, "write the pages' screenshots to docs/")

// A smart TV's user agent, as a real device would send it.
const tvUserAgent = "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"

// phone sets the browser to a 390 px wide phone screen.
func phone() chromedp.Action {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1), func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
		p.Mobile = true
	})
}

// signInChromium signs user in through the sign-in page, starting at path, and waits for path's page.
func signInChromium(t *testing.T, ctx context.Context, e *env, user, path string) {
	t.Helper()
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/login?return_to="+url.QueryEscape(path)),
		chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.SendKeys("#username", user, chromedp.ByQuery),
		chromedp.SendKeys("#password", user+"-password", chromedp.ByQuery),
		chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitNotPresent("#signin", chromedp.ByQuery),
	))
}

// fitsPhone checks what a person on a 390 px phone sees: nothing wider than the screen (no sideways
// scrolling), and, once the page script has run, every time in words with the local time beside it.
func fitsPhone(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	var m struct {
		ScrollWidth, ClientWidth int
		Times, Localised         int
		Widest                   string
	}
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitReady("body", chromedp.ByQuery),
		chromedp.Evaluate(`(function(){
			var d=document.documentElement, widest="", w=0;
			document.querySelectorAll("body *").forEach(function(el){var r=el.getBoundingClientRect(); if(r.right>w){w=r.right; widest=el.tagName+"."+el.className+"#"+el.id;}});
			var times=document.querySelectorAll("time[datetime]");
			var loc=0; times.forEach(function(el){ if(el.getAttribute("data-local")) loc++; });
			return {ScrollWidth:d.scrollWidth, ClientWidth:d.clientWidth, Times:times.length, Localised:loc, Widest:widest};
		})()`, &m),
	))
	require.Equal(t, 390, m.ClientWidth, "%s: the viewport is a phone's", page)
	require.LessOrEqual(t, m.ScrollWidth, m.ClientWidth, "%s scrolls sideways at 390 px (widest: %s)", page, m.Widest)
	if m.Times > 0 {
		require.NoError(t, chromedp.Run(ctx, chromedp.WaitReady(`html[data-times-localised]`, chromedp.ByQuery)))
		require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll("time[data-local]").length`, &m.Localised)))
		require.Equal(t, m.Times, m.Localised, "%s: every time is shown in the viewer's time zone", page)
	}
}

// choicesEqual checks that Deny is as prominent as Allow: same size, same weight, same font size,
// side by side, both visible without scrolling sideways.
func choicesEqual(t *testing.T, ctx context.Context, scope, page string) {
	t.Helper()
	var b []struct {
		Width, Height  float64
		Top            float64
		Weight, Size   string
		Text, Disabled string
	}
	require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll(`+jsString(scope+` .choices button`)+`)).map(function(el){
		var r=el.getBoundingClientRect(), s=getComputedStyle(el);
		return {Width:r.width, Height:r.height, Top:r.top, Weight:s.fontWeight, Size:s.fontSize, Text:el.textContent, Disabled:String(el.disabled)};
	})`, &b)))
	require.Len(t, b, 2, "%s: an allow and a deny button", page)
	allow, deny := b[0], b[1]
	require.InDelta(t, allow.Width, deny.Width, 0.5, "%s: %q and %q differ in width", page, allow.Text, deny.Text)
	require.InDelta(t, allow.Height, deny.Height, 0.5, "%s: %q and %q differ in height", page, allow.Text, deny.Text)
	require.Equal(t, allow.Top, deny.Top, "%s: the buttons are side by side", page)
	require.Equal(t, allow.Weight, deny.Weight, "%s: same font weight", page)
	require.Equal(t, allow.Size, deny.Size, "%s: same font size", page)
	require.Equal(t, "Deny", strings.TrimSpace(deny.Text), page)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the page as docs/<name>.png when -update-screenshots is set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	var png []byte
	require.NoError(t, chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)))
	require.NoError(t, os.WriteFile(filepath.Join("..", "docs", name+".png"), png, 0o644))
}

// deviceAuthorization starts a device grant as a device with userAgent would, and returns its answer.
func deviceAuthorization(t *testing.T, e *env, clientID, scope, userAgent string, extra url.Values) map[string]interface{} {
	t.Helper()
	form := url.Values{"client_id": {clientID}, "scope": {scope}}
	for k, v := range extra {
		form[k] = v
	}
	status, da := e.post("/oauth2/device/auth", form, http.Header{"User-Agent": {userAgent}})
	require.Equal(t, http.StatusOK, status, "%v", da)
	return da
}

// TestDevicePagesInChromium walks the device verification pages on a phone-sized screen: a wrong code
// keeps what was typed and says what to do; the confirmation (typed, from a link, and after an earlier
// approval) names the app, the device in words, the address, when, the account, and what each choice
// does, with equal Allow and Deny and the phishing warning on every variant.
func TestDevicePagesInChromium(t *testing.T) {
	ctx := headless(t)
	e := start(t)
	require.NoError(t, chromedp.Run(ctx, phone()))

	// The home page and the sign-in page fit too.
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(e.url+"/")))
	fitsPhone(t, ctx, "home")
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(e.url+"/login")))
	fitsPhone(t, ctx, "sign-in")

	signInChromium(t, ctx, e, "alice", "/device")
	var value, errText string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#user_code", chromedp.ByQuery),
		chromedp.SendKeys("#user_code", "bcdf-ghjk", chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#error", chromedp.ByQuery),
		chromedp.Text("#error", &errText, chromedp.ByQuery),
		chromedp.Value("#user_code", &value, chromedp.ByQuery),
	))
	require.Equal(t, "bcdf-ghjk", value, "the typed code is still in the field")
	require.True(t, strings.HasPrefix(strings.TrimSpace(errText), "19 attempts left."), "the attempts left come first (20 per account): %q", errText)
	require.Contains(t, errText, "does not match any device")
	require.Contains(t, errText, "Check it against the code on your device")
	fitsPhone(t, ctx, "device code error")

	// A TV asks; alice types its code.
	da := deviceAuthorization(t, e, "demo-device", "openid profile offline_access", tvUserAgent, nil)
	e.clock.Add(3 * 60e9) // three minutes later
	code := da["user_code"].(string)
	var facts, warning string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("#user_code", code, chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#allow", chromedp.ByQuery),
		chromedp.Text(".request-facts", &facts, chromedp.ByQuery),
		chromedp.Text("#not-you", &warning, chromedp.ByQuery),
	))
	for _, want := range []string{"demo-device", "a TV or media player (Samsung Browser 4 on Linux)", "network address 127.0.0.1", "this server's own machine", "alice"} {
		require.Contains(t, facts, want)
	}
	require.Regexp(t, `3 minutes ago|in 3 minutes|3 min`, facts, "when, in words")
	require.Contains(t, warning, "If you did not start this yourself")
	choicesEqual(t, ctx, "form", "device confirmation")
	fitsPhone(t, ctx, "device confirmation")

	// From the QR code / link: the same page, with the check-the-code box.
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/device?user_code="+url.QueryEscape(code)),
		chromedp.WaitVisible("#check-code", chromedp.ByQuery),
	))
	choicesEqual(t, ctx, "form", "device confirmation from a link")
	fitsPhone(t, ctx, "device confirmation from a link")
	screenshot(t, ctx, "device-confirm")

	var done string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#allow", chromedp.ByQuery),
		chromedp.WaitVisible("#done", chromedp.ByQuery),
		chromedp.Text("#done", &done, chromedp.ByQuery),
	))
	require.Contains(t, done, "can now access your account")
	fitsPhone(t, ctx, "device connected")

	// The same app again: the repeat warning, the check-the-code box and the phishing warning.
	da = deviceAuthorization(t, e, "demo-device", "openid", tvUserAgent, nil)
	var repeat string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/device?user_code="+url.QueryEscape(da["user_code"].(string))),
		chromedp.WaitVisible("#repeat", chromedp.ByQuery),
		chromedp.Text("#repeat", &repeat, chromedp.ByQuery),
		chromedp.WaitVisible("#check-code", chromedp.ByQuery),
		chromedp.WaitVisible("#not-you", chromedp.ByQuery),
	))
	require.Contains(t, repeat, "You already connected demo-device once in the last 24 hours")
	require.NotContains(t, repeat, "time(s)")
	choicesEqual(t, ctx, "form[action='/device']", "repeat approval")
	fitsPhone(t, ctx, "repeat approval")
	screenshot(t, ctx, "device-repeat")

	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#deny", chromedp.ByQuery),
		chromedp.WaitVisible("#done", chromedp.ByQuery),
		chromedp.Text("#done", &done, chromedp.ByQuery),
	))
	require.Contains(t, done, "was not given access")
}

// TestStaffKioskInChromium: a failed approval at the staffed kiosk keeps the account's requests on the
// page, with the code, ID method and reference the staff member typed, and the reason beside that
// request; the request box names the device in words and has equal Approve and Deny.
func TestStaffKioskInChromium(t *testing.T) {
	ctx := headless(t)
	e := start(t)
	require.NoError(t, chromedp.Run(ctx, phone()))
	da := deviceAuthorization(t, e, "demo-kiosk-app", "openid profile", tvUserAgent, url.Values{"login_hint": {"alice"}})
	signInChromium(t, ctx, e, "staff", "/kiosk?login_hint=alice")

	wrong := "BCDF-GHJK"
	if da["user_code"] == wrong {
		wrong = "CDFG-HJKL"
	}
	var codeVal, method, ref, reqErr, facts string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("input[name=user_code]", chromedp.ByQuery),
		chromedp.Text(".request-facts", &facts, chromedp.ByQuery),
		chromedp.SendKeys("input[name=user_code]", wrong, chromedp.ByQuery),
		chromedp.SetValue("select[name=proofing_method]", "passport", chromedp.ByQuery),
		chromedp.SendKeys("input[name=proofing_reference]", "4321", chromedp.ByQuery),
		chromedp.Click("#allow", chromedp.ByQuery),
		chromedp.WaitVisible("#request-error", chromedp.ByQuery),
		chromedp.Text("#request-error", &reqErr, chromedp.ByQuery),
		chromedp.Value("input[name=user_code]", &codeVal, chromedp.ByQuery),
		chromedp.Value("select[name=proofing_method]", &method, chromedp.ByQuery),
		chromedp.Value("input[name=proofing_reference]", &ref, chromedp.ByQuery),
	))
	require.Contains(t, facts, "a TV or media player")
	require.Contains(t, facts, "Customer's account")
	require.Contains(t, reqErr, "does not match a pending request of this account")
	require.Contains(t, reqErr, "Ask the customer to read the code")
	require.Equal(t, wrong, codeVal, "the typed code survives the error")
	require.Equal(t, "passport", method, "the chosen ID check survives the error")
	require.Equal(t, "4321", ref, "the typed reference survives the error")
	choicesEqual(t, ctx, "form[action='/kiosk']", "staffed kiosk")
	fitsPhone(t, ctx, "staffed kiosk")
	screenshot(t, ctx, "kiosk")

	var title string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("input[name=user_code]", da["user_code"].(string), chromedp.ByQuery),
		chromedp.Click("#allow", chromedp.ByQuery),
		chromedp.WaitNotPresent("#allow", chromedp.ByQuery),
		chromedp.Text("h1", &title, chromedp.ByQuery),
	))
	require.Equal(t, "Device approved", title)
}

// TestCIBAPagesInChromium: the /ciba page and the e-mail link page on a phone: the app, who asked, the
// message, when, the account, what each choice does, equal choices, the phishing warning, no jargon;
// and the dev outbox shows a new message without anyone reloading it.
func TestCIBAPagesInChromium(t *testing.T) {
	ctx := headless(t)
	e := startCIBA(t)
	require.NoError(t, chromedp.Run(ctx, phone()))

	// The outbox page is open before the message exists, and shows it by itself.
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/dev/outbox"),
		chromedp.WaitVisible("#empty", chromedp.ByQuery),
	))
	e.ask("demo-ciba-poll", "alice", nil)
	var mail string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#m1", chromedp.ByQuery), // appears when the page has reloaded itself
		chromedp.Text("#m1", &mail, chromedp.ByQuery),
	))
	require.Contains(t, mail, "alice@example.com")
	fitsPhone(t, ctx, "dev outbox")
	screenshot(t, ctx, "outbox")

	// The e-mail's link page says which account approves.
	link := cibaLinkIn(t, e.outboxMail("alice@example.com").Text)
	var account, warning string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible("#account", chromedp.ByQuery),
		chromedp.Text("#account", &account, chromedp.ByQuery),
		chromedp.Text("#not-you", &warning, chromedp.ByQuery),
	))
	require.Equal(t, "Alice Liddell (alice@example.com)", strings.TrimSpace(account))
	require.Contains(t, warning, "If you did not start this yourself")
	choicesEqual(t, ctx, "form", "e-mail link page")
	fitsPhone(t, ctx, "e-mail link page")
	screenshot(t, ctx, "ciba-link")

	// Carol's device is the /ciba page.
	e.ask("demo-ciba-poll", "carol", nil)
	signInChromium(t, ctx, e.env, "carol", "/ciba")
	var page string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible(".ciba-request", chromedp.ByQuery),
		chromedp.Text("body", &page, chromedp.ByQuery),
	))
	for _, want := range []string{"Demo CIBA app (poll)", "W4SCT", "If you approve", "If you deny", "carol", "If you did not start this yourself"} {
		require.Contains(t, page, want)
	}
	require.NotContains(t, page, "delivery:")
	require.NotContains(t, page, "poll.")
	choicesEqual(t, ctx, ".ciba-request form", "/ciba")
	fitsPhone(t, ctx, "/ciba")
	screenshot(t, ctx, "ciba")

	var done string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#deny", chromedp.ByQuery),
		chromedp.WaitVisible("#done", chromedp.ByQuery),
		chromedp.Text("#done", &done, chromedp.ByQuery),
	))
	require.Contains(t, done, "Denied")
}

// TestCIBAEnrolmentPagesInChromium: bob, who has no device, enrols at the page the client shows: a
// wrong code keeps what he typed; the confirmation names the app, the device, when and the account.
func TestCIBAEnrolmentPagesInChromium(t *testing.T) {
	ctx := headless(t)
	e := startCIBA(t)
	require.NoError(t, chromedp.Run(ctx, phone()))
	ack := e.ask("demo-ciba-poll", "bob", nil)
	code := ack["user_code"].(string)
	signInChromium(t, ctx, e.env, "bob", "/ciba/enroll")
	var value, errText, facts string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#user_code", chromedp.ByQuery),
		chromedp.SendKeys("#user_code", "zzzz-zzzz", chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#error", chromedp.ByQuery),
		chromedp.Text("#error", &errText, chromedp.ByQuery),
		chromedp.Value("#user_code", &value, chromedp.ByQuery),
	))
	require.Equal(t, "zzzz-zzzz", value)
	require.True(t, strings.HasPrefix(strings.TrimSpace(errText), "19 attempts left."), "the attempts left come first (20 per account): %q", errText)
	require.Contains(t, errText, "does not match any app waiting for you")
	// A second wrong code: one fewer. The first answer's error is taken off the page first, so that
	// waiting for #error waits for the second answer, not the page still showing the first.
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(`document.getElementById("error").remove()`, nil),
		chromedp.SetValue("#user_code", "zzzz-zzzy", chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#error", chromedp.ByQuery),
		chromedp.Text("#attempts-left", &errText, chromedp.ByQuery),
	))
	require.Equal(t, "18 attempts left.", strings.TrimSpace(errText))
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("#user_code", code, chromedp.ByQuery),
		chromedp.Click("#continue", chromedp.ByQuery),
		chromedp.WaitVisible("#allow", chromedp.ByQuery),
		chromedp.Text(".request-facts", &facts, chromedp.ByQuery),
		chromedp.WaitVisible("#not-you", chromedp.ByQuery),
	))
	require.Contains(t, facts, "Demo CIBA app (poll)")
	require.Contains(t, facts, "bob")
	choicesEqual(t, ctx, "form", "enrolment")
	fitsPhone(t, ctx, "enrolment")
}

// TestConsentPageInChromium: the authorization-code consent page has equal choices, says what each
// does and which account, and fits a phone.
func TestConsentPageInChromium(t *testing.T) {
	ctx := headless(t)
	e := start(t)
	require.NoError(t, chromedp.Run(ctx, phone()))
	q := url.Values{"client_id": {"demo-confidential"}, "redirect_uri": {"http://127.0.0.1:9999/callback"}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"state-1234567890"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	signInChromium(t, ctx, e, "alice", "/oauth2/auth?"+q.Encode())
	var page string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#allow", chromedp.ByQuery),
		chromedp.Text("body", &page, chromedp.ByQuery),
	))
	require.Contains(t, page, "If you allow")
	require.Contains(t, page, "If you deny")
	require.Contains(t, page, "If you did not start this yourself")
	choicesEqual(t, ctx, "form", "consent")
	fitsPhone(t, ctx, "consent")
}

// TestReciprocalPagesInChromium: the Reciprocal OAuth pages on a 390 px phone, through the whole
// journey in one browser: alice at the voice assistant (A) links with the music service (B), signs in
// and consents there, comes back linked, gives B access in return; at B, the page calls A's userinfo
// with that access and shows the answer. No page scrolls sideways.
func TestReciprocalPagesInChromium(t *testing.T) {
	ctx := headless(t)
	p := startPairAt(t, false, "localhost")
	require.NoError(t, chromedp.Run(ctx, phone()))
	signInChromium(t, ctx, p.a, "alice", "/reciprocal")
	link := `a[href="/reciprocal/link"]`
	require.NoError(t, chromedp.Run(ctx, chromedp.WaitVisible(link, chromedp.ByQuery)))
	fitsPhone(t, ctx, "reciprocal, not linked")

	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click(link, chromedp.ByQuery),
		chromedp.WaitVisible("#username", chromedp.ByQuery),
	))
	fitsPhone(t, ctx, "the partner's sign-in")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SendKeys("#username", "alice", chromedp.ByQuery),
		chromedp.SendKeys("#password", "alice-password", chromedp.ByQuery),
		chromedp.Click("#signin", chromedp.ByQuery),
		chromedp.WaitVisible("#allow", chromedp.ByQuery),
	))
	fitsPhone(t, ctx, "the partner's consent")
	choicesEqual(t, ctx, "form", "the partner's consent")

	grant := `form[action="/reciprocal/grant"]`
	var page, notice, answer string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click("#allow", chromedp.ByQuery),
		chromedp.WaitVisible(grant, chromedp.ByQuery),
		chromedp.Text("body", &page, chromedp.ByQuery),
	))
	require.Contains(t, page, "Your accounts are linked")
	fitsPhone(t, ctx, "reciprocal, linked")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelectorAll('`+grant+` input[type=checkbox]').forEach(function(c){c.checked=true}); true`, nil),
		chromedp.Click(grant+` button`, chromedp.ByQuery),
		chromedp.WaitVisible("#notice", chromedp.ByQuery),
		chromedp.Text("#notice", &notice, chromedp.ByQuery),
	))
	require.Contains(t, notice, "The partner now has access to")
	fitsPhone(t, ctx, "reciprocal, access given")

	call := `form[action="/reciprocal/call"] button`
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(p.b.url+"/reciprocal"),
		chromedp.WaitVisible(call, chromedp.ByQuery),
	))
	fitsPhone(t, ctx, "the partner's reciprocal page")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Click(call, chromedp.ByQuery),
		chromedp.WaitVisible("pre", chromedp.ByQuery),
		chromedp.Text("pre", &answer, chromedp.ByQuery),
	))
	require.Contains(t, answer, "Alice Liddell", "B shows what A's userinfo said")
	fitsPhone(t, ctx, "the partner's userinfo answer")
}
