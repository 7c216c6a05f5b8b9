package integration

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/notify/notifytest"
)

// alertEnv runs the example server with a real SMTP server receiving its e-mail.
func alertEnv(t *testing.T) (*env, *notifytest.SMTPServer) {
	t.Helper()
	smtp := notifytest.NewSMTPServer(t)
	sender, err := notify.NewSMTP(smtp.Config())
	require.NoError(t, err)
	return start(t, func(o *server.Options) { o.Sender = sender }), smtp
}

// alertDevice runs a device request of demo-device and alice's approval on the verification page.
func alertDevice(t *testing.T, e *env, b *browser) (deviceCode, userCode string) {
	t.Helper()
	status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid offline_access"}},
		http.Header{"User-Agent": {"FridgePhotos/2.1"}})
	require.Equal(t, http.StatusOK, status, "%v", da)
	userCode = da["user_code"].(string)
	_, page := b.get("/device?entered=1&user_code=" + url.QueryEscape(userCode))
	status, page = b.postForm("/device", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {userCode}, "action": {"approve"},
		"scope": {"openid", "offline_access"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Device connected")
	return da["device_code"].(string), userCode
}

// mailText returns the decoded plain-text body of an e-mail.
func mailText(t *testing.T, m notifytest.Mail) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	require.NoError(t, err)
	mt, _, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "text/plain", mt)
	var r io.Reader = msg.Body
	if msg.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

var linkRE = regexp.MustCompile(`https?://\S+/device/deactivate\?token=\S+`)

// tokenActive asks the introspection endpoint (RFC 7662) whether a token is active.
func tokenActive(t *testing.T, e *env, token string) bool {
	t.Helper()
	status, body := e.post("/oauth2/introspect", url.Values{"token": {token}}, http.Header{"Authorization": {basic("demo-confidential", "demo-secret")}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	return body["active"] == true
}

// get fetches a page without cookies.
func getPage(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestDeviceApprovalAlertOverSMTP is the anti-phishing alert of seed 002: after a user-code approval,
// a real SMTP server receives an e-mail to the user naming the client as it claimed itself, the
// scopes, the time and the device, with a one-click link; following it deactivates the grant and
// revokes its tokens (they no longer introspect active); the link then refuses a second use, a
// tampered copy and, later, expiry, each changing nothing.
func TestDeviceApprovalAlertOverSMTP(t *testing.T) {
	t.Parallel()
	e, smtp := alertEnv(t)
	alice := e.browser("alice", "alice-password")
	deviceCode, _ := alertDevice(t, e, alice)

	m := smtp.Next(t)
	require.Equal(t, []string{"alice@example.com"}, m.To)
	require.Equal(t, "A device was connected to your account", m.Header.Get("Subject"))
	text := mailText(t, m)
	require.Contains(t, text, "Application (as it calls itself): demo-device")
	require.Contains(t, text, "Access: openid, offline_access")
	require.Contains(t, text, "FridgePhotos/2.1", "the device's user agent")
	require.Contains(t, text, "127.0.0.1", "the device's address")
	require.Contains(t, text, e.clock.Now().UTC().Format("02 Jan 2006"), "the time of approval")
	link := linkRE.FindString(text)
	require.NotEmpty(t, link, text)
	require.True(t, strings.HasPrefix(link, e.url+"/device/deactivate?token="))

	// The device picks its tokens up; they work.
	status, tok := e.poll("demo-device", deviceCode)
	require.Equal(t, http.StatusOK, status, "%v", tok)
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	require.True(t, tokenActive(t, e, access))
	require.True(t, tokenActive(t, e, refresh))

	// A tampered link is refused and changes nothing.
	u, err := url.Parse(link)
	require.NoError(t, err)
	tokenParam := u.Query().Get("token")
	parts := strings.Split(tokenParam, ".")
	parts[1] = "b3RoZXItcmVxdWVzdA" // another request ID, same MAC
	status, page := getPage(t, e.url+"/device/deactivate?token="+url.QueryEscape(strings.Join(parts, ".")))
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "not valid or has expired")
	require.True(t, tokenActive(t, e, access))

	// One click: the grant is deactivated and every token it issued is revoked.
	status, page = getPage(t, link)
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Device disconnected")
	require.False(t, tokenActive(t, e, access))
	require.False(t, tokenActive(t, e, refresh))
	status, body := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"demo-device"}}, nil)
	require.Equal(t, http.StatusBadRequest, status, "%v", body)

	// The link works once.
	status, page = getPage(t, link)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "already been used")

	// The deactivation is audited: the grant is flagged as reported by alice, its tokens revoked.
	var flagged []audit.Event
	for _, ev := range ksAuditEvents(t, e) {
		if ev.Type == audit.EventFlagged {
			flagged = append(flagged, ev)
		}
	}
	require.Len(t, flagged, 1)
	require.Equal(t, "alice", flagged[0].Subject)
	require.Equal(t, "alice", flagged[0].Actor)
	require.Equal(t, pending.ReasonReported, flagged[0].Data["reason"])
	require.Equal(t, true, flagged[0].Data["tokens_revoked"])

	// A link of another approval, used after it expired (7 days), is refused and changes nothing.
	deviceCode2, _ := alertDevice(t, e, alice)
	link2 := linkRE.FindString(mailText(t, smtp.Next(t)))
	status, tok = e.poll("demo-device", deviceCode2)
	require.Equal(t, http.StatusOK, status)
	access2 := tok["access_token"].(string)
	before := len(ksAuditEvents(t, e))
	e.clock.Add(7*24*time.Hour + time.Second)
	status, page = getPage(t, link2)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "expired")
	require.Len(t, ksAuditEvents(t, e), before, "nothing was revoked")
	grant, err := e.srv.Store().(pending.IndexStorage).GetPendingGrantByRequestID(context.Background(), pending.KindDeviceCode, requestIDOf(t, link2))
	require.NoError(t, err)
	require.Equal(t, pending.StateConsumed, grant.State)
	_ = access2
}

// requestIDOf reads the request ID out of a deactivation link (its second dot-separated part).
func requestIDOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(u.Query().Get("token"), ".")[1])
	require.NoError(t, err)
	return string(b)
}

// TestRepeatApprovalWarning: the third approval of the same client within a day shows a warning with
// the earlier approvals and a way to deactivate each; another user cannot deactivate them.
func TestRepeatApprovalWarning(t *testing.T) {
	t.Parallel()
	e := start(t)
	alice := e.browser("alice", "alice-password")
	first, _ := alertDevice(t, e, alice)
	status, tok := e.poll("demo-device", first)
	require.Equal(t, http.StatusOK, status)
	access := tok["access_token"].(string)

	// The first approval had no warning; the second request does.
	status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	require.Equal(t, http.StatusOK, status)
	_, page := alice.get("/device?entered=1&user_code=" + url.QueryEscape(da["user_code"].(string)))
	require.Contains(t, page, "You already connected demo-device once in the last 24 hours")
	require.Contains(t, page, `action="/device/deactivate"`)
	require.Contains(t, page, "If you did not start this yourself", "the repeat page keeps the phishing warning")
	_, linked := alice.get("/device?user_code=" + url.QueryEscape(da["user_code"].(string)))
	require.Contains(t, linked, "You already connected demo-device once")
	require.Contains(t, linked, "Check the code", "arriving by link on the repeat page still asks to check the code")
	rid := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, rid)

	// Bob cannot deactivate Alice's grant.
	bob := e.browser("bob", "bob-password")
	_, bobPage := bob.get("/device")
	status, page = bob.postForm("/device/deactivate", url.Values{"csrf": {csrfOf(t, bobPage)}, "request_id": {rid[1]}})
	require.Equal(t, http.StatusNotFound, status, "page: %s", page)
	require.True(t, tokenActive(t, e, access))

	// Alice deactivates the earlier grant from the warning.
	_, page = alice.get("/device?entered=1&user_code=" + url.QueryEscape(da["user_code"].(string)))
	status, page = alice.postForm("/device/deactivate", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {rid[1]}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Device disconnected")
	require.False(t, tokenActive(t, e, access))

	// Outside the window (24 hours) there is no warning. (Sessions last 12 hours of the server's clock,
	// so alice signs in again.)
	e.clock.Add(25 * time.Hour)
	alice = e.browser("alice", "alice-password")
	status, da = e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	require.Equal(t, http.StatusOK, status)
	_, page = alice.get("/device?entered=1&user_code=" + url.QueryEscape(da["user_code"].(string)))
	require.NotContains(t, page, "You already connected")
	require.Contains(t, page, "Allow")
}

// TestPrintedUserCode: a device without a display sends its serial (authenticated); its user code is
// the one printed in its box, derived from the serial with the factory's key. The code still needs
// sign-in and consent, a restarted device takes it over, and only configured, authenticated clients
// may use serials.
func TestPrintedUserCode(t *testing.T) {
	t.Parallel()
	e := start(t)
	printed, err := rfc8628.PrintedUserCode(server.DemoPrintedCodeKey, pending.UserCodeBase20, "demo-printed", "SN-0042")
	require.NoError(t, err)
	box := pending.UserCodeBase20.Display(printed)

	auth := http.Header{"Authorization": {basic("demo-printed", "demo-secret")}}
	status, first := e.post("/oauth2/device/auth", url.Values{"scope": {"openid"}, "device_serial": {"SN-0042"}}, auth)
	require.Equal(t, http.StatusOK, status, "%v", first)
	require.Equal(t, box, first["user_code"], "the code printed in the box")

	// The device restarts and asks again: same code, and the earlier request is superseded.
	status, second := e.post("/oauth2/device/auth", url.Values{"scope": {"openid"}, "device_serial": {"SN-0042"}}, auth)
	require.Equal(t, http.StatusOK, status, "%v", second)
	require.Equal(t, box, second["user_code"])
	status, body := e.post("/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {first["device_code"].(string)}}, auth)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "expired_token", body["error"])

	// Entering the printed code still needs sign-in and consent.
	anon := &browser{t: t, e: e, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := anon.c.Get(e.url + "/device?user_code=" + url.QueryEscape(box))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	alice := e.browser("alice", "alice-password")
	_, page := alice.get("/device?user_code=" + url.QueryEscape(strings.ToLower(printed)))
	require.Contains(t, page, "demo-printed")
	status, page = alice.postForm("/device", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {box}, "action": {"approve"}, "scope": {"openid"}})
	require.Equal(t, http.StatusOK, status, page)
	status, body = e.post("/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {second["device_code"].(string)}}, auth)
	require.Equal(t, http.StatusOK, status, "%v", body)

	cases := []struct {
		name   string
		form   url.Values
		header http.Header
		status int
		err    string
	}{
		{"client without a printed-code key", url.Values{"client_id": {"demo-device"}, "device_serial": {"SN-0042"}}, nil, http.StatusBadRequest, "invalid_request"},
		{"malformed serial", url.Values{"device_serial": {"SN 42/.."}}, auth, http.StatusBadRequest, "invalid_request"},
		{"serial too long", url.Values{"device_serial": {strings.Repeat("A", 65)}}, auth, http.StatusBadRequest, "invalid_request"},
		{"wrong secret", url.Values{"device_serial": {"SN-0042"}}, http.Header{"Authorization": {basic("demo-printed", "nope")}}, http.StatusUnauthorized, "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.post("/oauth2/device/auth", c.form, c.header)
			require.Equal(t, c.status, status, "%v", body)
			require.Equal(t, c.err, body["error"])
		})
	}

	// The printed code is attempt-limited like any other: once an address has made too many wrong
	// guesses, even the right code is refused.
	status, third := e.post("/oauth2/device/auth", url.Values{"scope": {"openid"}, "device_serial": {"SN-0042"}}, auth)
	require.Equal(t, http.StatusOK, status, "%v", third)
	guesser := e.browser("bob", "bob-password")
	for i := 0; i < 20; i++ {
		status, _ := guesser.get("/device?user_code=BBBB-BB" + string("BCDFGHJKLMNPQRSTVWXZ"[i]) + "B")
		require.Equal(t, http.StatusBadRequest, status)
	}
	status, page = guesser.get("/device?user_code=" + url.QueryEscape(box))
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Contains(t, page, "Too many wrong codes")
}

// TestDeviceAlertInDevOutbox: in development mode the alert appears at /dev/outbox, naming the
// scopes the user actually granted.
func TestDeviceAlertInDevOutbox(t *testing.T) {
	t.Parallel()
	e := start(t)
	alice := e.browser("alice", "alice-password")
	status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid profile email"}}, nil)
	require.Equal(t, http.StatusOK, status)
	_, page := alice.get("/device?entered=1&user_code=" + url.QueryEscape(da["user_code"].(string)))
	status, page = alice.postForm("/device", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {da["user_code"].(string)}, "action": {"approve"},
		"scope": {"openid", "email"}})
	require.Equal(t, http.StatusOK, status, page)
	// The alert was queued in the approval's transaction; the outbox worker delivers it soon after.
	// Deliver what is due now instead of waiting for it.
	_, err := e.srv.DrainOutbox(context.Background())
	require.NoError(t, err)
	status, page = alice.get("/dev/outbox")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "A device was connected to your account")
	require.Contains(t, page, "alice@example.com")
	require.Contains(t, page, "Access: openid, email")
	require.Contains(t, page, "/device/deactivate?token=")
}
