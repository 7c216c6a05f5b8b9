package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

// Seed 000's "reply the text": dave's authentication device is his phone. A CIBA request reaches him as
// a text message with a short code; his reply, posted by the SMS provider to the webhook with the
// provider's signature, decides the request.

const davePhone = "+15550100004"

var smsCodeRE = regexp.MustCompile(`Reply YES (\d{4})`)

// smsCode returns the reply code of the newest text message to dave.
func (e *cibaEnv) smsCode() string {
	e.t.Helper()
	m := e.outboxMail(davePhone)
	c := smsCodeRE.FindStringSubmatch(m.Text)
	require.NotNil(e.t, c, "no reply code in %q", m.Text)
	return c[1]
}

// inbound posts a text message from sender to the example's SMS webhook as the provider does: a form,
// signed with the webhook key (signed false: without a signature).
func (e *cibaEnv) inbound(sender, body string, signed bool) int {
	e.t.Helper()
	hook := e.url + "/ciba/sms/inbound"
	form := url.Values{"From": {sender}, "To": {server.DemoSMSNumber}, "Body": {body}, "MessageSid": {"SMtest"}}
	req, err := http.NewRequest(http.MethodPost, hook, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signed {
		req.Header.Set("X-Twilio-Signature", smschannel.Signer{Key: e.srv.SMSWebhookKey()}.Sign(hook, form))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// subjectOf returns the sub claim of an ID token (already verified by the client's library in real
// life; here only read).
func subjectOf(t *testing.T, idToken string) string {
	t.Helper()
	parts := strings.Split(idToken, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c struct{ Sub string }
	require.NoError(t, json.Unmarshal(b, &c))
	return c.Sub
}

func TestCIBASMSReplyApproves(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	ack := e.ask("demo-ciba-poll", "dave", nil)
	require.Nil(t, ack["user_code"], "dave has a device: the normal CIBA path, not the fallback")
	id := ack["auth_req_id"].(string)
	prompt := e.outboxMail(davePhone).Text
	require.Contains(t, prompt, "Demo CIBA app (poll) asks to sign you in (\"W4SCT\")")
	code := e.smsCode()

	require.Equal(t, http.StatusForbidden, e.inbound(davePhone, "YES "+code, false), "an unsigned reply")
	require.Equal(t, http.StatusOK, e.inbound("+15550100005", "YES "+code, true), "the right code from another phone")
	e.clock.Add(5 * time.Second)
	_, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, "authorization_pending", body["error"], "nothing but dave's signed reply decides")

	require.Equal(t, http.StatusOK, e.inbound(davePhone, "yes "+code, true))
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "dave", subjectOf(t, body["id_token"].(string)))
	require.Equal(t, "Done: Demo CIBA app (poll) is signed in.\n", e.outboxMail(davePhone).Text)

	// The provider delivers the reply again: nothing changes, the answer is the same.
	n := e.outboxCount(davePhone)
	require.Equal(t, http.StatusOK, e.inbound(davePhone, "NO "+code, true))
	require.Equal(t, n, e.outboxCount(davePhone))
}

func TestCIBASMSReplyDeniesPingClient(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	first := e.ask("demo-ciba-ping", "dave", nil)["auth_req_id"].(string)
	firstCode := e.smsCode()
	second := e.ask("demo-ciba-poll", "dave", nil)["auth_req_id"].(string)
	secondCode := e.smsCode()
	require.NotEqual(t, firstCode, secondCode, "two requests waiting for dave share a code")

	require.Equal(t, http.StatusOK, e.inbound(davePhone, "No "+firstCode, true))
	cb := e.ping.next(t)
	require.Equal(t, first, cb.Body["auth_req_id"])
	status, body := e.redeem("demo-ciba-ping", first)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "access_denied", body["error"])

	e.clock.Add(5 * time.Second)
	_, body = e.redeem("demo-ciba-poll", second)
	require.Equal(t, "authorization_pending", body["error"], "the denial reached the other request")
}

// TestDevOutboxReplyBox: in dev mode the outbox page's reply box hands a reply to the webhook, signed,
// as the provider would; only the server's own pages may use it.
func TestDevOutboxReplyBox(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	id := e.ask("demo-ciba-poll", "dave", nil)["auth_req_id"].(string)
	code := e.smsCode()
	reply := func(header http.Header) int {
		req, err := http.NewRequest(http.MethodPost, e.url+"/dev/outbox/reply", strings.NewReader(url.Values{"from": {davePhone}, "body": {"YES " + code}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusForbidden, reply(nil), "a reply from outside the outbox page")
	require.Equal(t, http.StatusForbidden, reply(http.Header{"Origin": {"http://evil.example"}}))
	require.Equal(t, http.StatusForbidden, reply(http.Header{"Sec-Fetch-Site": {"cross-site"}}))
	e.clock.Add(5 * time.Second)
	_, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, "authorization_pending", body["error"])

	require.Equal(t, http.StatusSeeOther, reply(http.Header{"Origin": {e.url}}))
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// TestCIBASMSReplyInChromium: a person answers dave's text message in the dev outbox's reply box.
func TestCIBASMSReplyInChromium(t *testing.T) {
	ctx := headless(t)
	e := startCIBA(t)
	require.NoError(t, chromedp.Run(ctx, phone()))
	id := e.ask("demo-ciba-poll", "dave", nil)["auth_req_id"].(string)
	code := e.smsCode()
	var done string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.Navigate(e.url+"/dev/outbox"),
		chromedp.WaitVisible("#reply1", chromedp.ByQuery),
		chromedp.SendKeys("#reply1", "yes "+code, chromedp.ByQuery),
		chromedp.Submit("#reply1", chromedp.ByQuery),
		chromedp.WaitVisible("#m2", chromedp.ByQuery), // the confirmation, on the outbox page again
		chromedp.Text("#m2", &done, chromedp.ByQuery),
	))
	require.Contains(t, done, "Done: Demo CIBA app (poll) is signed in.")
	fitsPhone(t, ctx, "dev outbox with a reply box")
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// TestCIBAKnowledgeAccountDigits: with -ciba-knowledge account-digits, an approval by text-message reply
// or by e-mail link also needs the last 4 digits of the account number; without them nothing is
// approved, and the client keeps waiting.
func TestCIBAKnowledgeAccountDigits(t *testing.T) {
	t.Parallel()
	e := startCIBA(t, func(o *server.Options) { o.CIBA.Knowledge = server.KnowledgeAccountDigits })

	// By text message (dave, ACCT-1004).
	id := e.ask("demo-ciba-poll", "dave", nil)["auth_req_id"].(string)
	require.Contains(t, e.outboxMail(davePhone).Text, "followed by the last 4 digits of your account number to allow")
	code := e.smsCode()
	require.Equal(t, http.StatusOK, e.inbound(davePhone, "YES "+code, true))
	require.Equal(t, http.StatusOK, e.inbound(davePhone, "YES "+code+" 1001", true))
	require.Contains(t, e.outboxMail(davePhone).Text, "did not match our records")
	e.clock.Add(5 * time.Second)
	_, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, "authorization_pending", body["error"])
	require.Equal(t, http.StatusOK, e.inbound(davePhone, "YES "+code+" 1004", true))
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)

	// By e-mail link (alice, ACCT-1001).
	id = e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	link := cibaLinkIn(t, e.outboxMail("alice@example.com").Text)
	tok := link[strings.LastIndexByte(link, '/')+1:]
	_, html := cibaPage(t, http.MethodGet, link)
	require.Contains(t, html, "Last 4 digits of your account number")
	for _, tc := range []struct {
		digits string
		status int
	}{{"", http.StatusBadRequest}, {"1004", http.StatusBadRequest}, {"1001", http.StatusOK}} {
		resp, err := http.PostForm(link, url.Values{"token": {tok}, "action": {"approve"}, "account_digits": {tc.digits}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, "digits %q", tc.digits)
	}
	e.clock.Add(5 * time.Second)
	status, body = e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "alice", subjectOf(t, body["id_token"].(string)))
}

func TestExampleRefusesUnknownKnowledgeCheck(t *testing.T) {
	t.Parallel()
	_, err := server.New(t.Context(), server.Options{Issuer: "http://127.0.0.1:1", AdminToken: adminToken, CIBA: server.CIBAOptions{Knowledge: "shoe-size"}})
	require.ErrorContains(t, err, "unknown knowledge check")
}
