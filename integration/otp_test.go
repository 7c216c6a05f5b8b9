package integration

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/notify/notifytest"
)

const otpGrantType = string(otp.DefaultGrantType)

// kioskAuth is demo-kiosk's client_secret_basic header.
var kioskAuth = func() http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth("demo-kiosk", url.QueryEscape(server.DemoKioskSecret))
	return http.Header{"Authorization": r.Header["Authorization"]}
}()

// withSMTP makes the example server send its mail through a real SMTP server running in the test.
func withSMTP(t *testing.T) (*notifytest.SMTPServer, func(*server.Options)) {
	t.Helper()
	smtp := notifytest.NewSMTPServer(t)
	sender, err := notify.NewSMTP(smtp.Config())
	require.NoError(t, err)
	return smtp, func(o *server.Options) { o.Sender = sender }
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// codeFrom reads the code from a received mail's subject ("Your code for demo-kiosk: 123456").
func codeFrom(t *testing.T, m notifytest.Mail) string {
	t.Helper()
	code := sixDigits.FindString(m.Header.Get("Subject"))
	require.NotEmpty(t, code, "subject %q", m.Header.Get("Subject"))
	return code
}

func (e *env) otpIdentify(hint string) map[string]interface{} {
	e.t.Helper()
	status, body := e.post("/oauth2/otp", url.Values{"login_hint": {hint}, "scope": {"openid profile usage:read"}}, kioskAuth)
	require.Equal(e.t, http.StatusOK, status, "body: %v", body)
	return body
}

func (e *env) otpSend(oob, channel string) (int, map[string]interface{}) {
	e.t.Helper()
	return e.post("/oauth2/otp", url.Values{"oob_code": {oob}, "channel": {channel}}, kioskAuth)
}

func (e *env) otpRedeem(oob, code string) (int, map[string]interface{}) {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {otpGrantType}, "oob_code": {oob}, "binding_code": {code}}, kioskAuth)
}

// TestOTPStoryOverSMTP: the seed's kiosk story over real HTTP, with the code travelling through a real
// SMTP server (STARTTLS, AUTH) to the person's mailbox.
func TestOTPStoryOverSMTP(t *testing.T) {
	t.Parallel()
	smtp, opt := withSMTP(t)
	e := start(t, opt)

	// Discovery tells a client where the challenge endpoint is and which grant type to use.
	status, meta := e.do(mustGet(t, e.url+"/.well-known/openid-configuration"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, e.url+"/oauth2/otp", meta["otp_challenge_endpoint"])
	require.Contains(t, meta["grant_types_supported"], otpGrantType)

	ch := e.otpIdentify("1 Main St")
	require.Equal(t, []interface{}{
		map[string]interface{}{"id": "sms-1", "type": "sms", "destination": "***-***-4567"},
		map[string]interface{}{"id": "email-1", "type": "email", "destination": "a***@e***.com"},
	}, ch["channels"], "the kiosk sees masked destinations only")
	oob := ch["oob_code"].(string)

	status, sent := e.otpSend(oob, "email-1")
	require.Equal(t, http.StatusOK, status, "body: %v", sent)
	require.Equal(t, "prompt", sent["binding_method"])
	require.EqualValues(t, 30, sent["interval"])

	m := smtp.Next(t)
	require.Equal(t, []string{"alice@example.com"}, m.To)
	require.True(t, m.TLS, "the code travelled over TLS")
	code := codeFrom(t, m)
	raw := string(m.Raw)
	for _, want := range []string{"demo-kiosk", "See your energy use", "Confirm who you are", "expires in 5 minutes", "Never share this code"} {
		require.Contains(t, raw, want)
	}

	status, tok := e.otpRedeem(oob, code)
	require.Equal(t, http.StatusOK, status, "body: %v", tok)
	require.Equal(t, "openid profile usage:read", tok["scope"])
	require.NotEmpty(t, tok["id_token"])

	// The token works at userinfo, for the account the address named.
	req := mustGet(t, e.url+"/userinfo")
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	status, info := e.do(req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice", info["sub"])
	require.Equal(t, "Alice Liddell", info["name"])

	// Used once; never again.
	status, again := e.otpRedeem(oob, code)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", again["error"])
}

func mustGet(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

// TestOTPFiveWrongCodesKillTheChallenge: five wrong codes, then the right one is still refused; a new
// challenge is needed.
func TestOTPFiveWrongCodesKillTheChallenge(t *testing.T) {
	t.Parallel()
	smtp, opt := withSMTP(t)
	e := start(t, opt)
	oob := e.otpIdentify("ACCT-1001")["oob_code"].(string)
	status, _ := e.otpSend(oob, "email")
	require.Equal(t, http.StatusOK, status)
	code := codeFrom(t, smtp.Next(t))
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 0; i < 5; i++ {
		status, body := e.otpRedeem(oob, wrong)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	}
	status, body := e.otpRedeem(oob, code)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", body["error"])
	require.Contains(t, body["error_description"], "Start a new one")
}

// TestOTPResendTooFastAndExpiry: a resend within the interval is slow_down; after the interval it works
// and only the new code redeems; after five minutes everything is expired_token.
func TestOTPResendTooFastAndExpiry(t *testing.T) {
	t.Parallel()
	smtp, opt := withSMTP(t)
	e := start(t, opt)
	oob := e.otpIdentify("alice@example.com")["oob_code"].(string)
	status, _ := e.otpSend(oob, "email-1")
	require.Equal(t, http.StatusOK, status)
	first := codeFrom(t, smtp.Next(t))

	e.clock.Add(10 * time.Second)
	status, body := e.otpSend(oob, "email-1")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "slow_down", body["error"])

	e.clock.Add(20 * time.Second)
	status, _ = e.otpSend(oob, "email-1")
	require.Equal(t, http.StatusOK, status)
	second := codeFrom(t, smtp.Next(t))
	if first != second {
		status, body = e.otpRedeem(oob, first)
		require.Equal(t, http.StatusBadRequest, status, "the replaced code no longer works")
		require.Equal(t, "invalid_grant", body["error"])
	}

	e.clock.Add(5 * time.Minute)
	status, body = e.otpRedeem(oob, second)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "expired_token", body["error"])
	status, body = e.otpSend(oob, "email-1")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "expired_token", body["error"])
}

// TestOTPSendQuota plays the quota oracle of issue 14 against the example over SMTP: five codes through
// one identifier use its quota up (the sixth is 429 with Retry-After); another identifier of the same
// person still gets 200 and a mail, as any identifier would, until the person's own limit (10 an hour),
// past which sends still answer 200 but no mail goes out.
func TestOTPSendQuota(t *testing.T) {
	t.Parallel()
	smtp, opt := withSMTP(t)
	e := start(t, opt)
	send := func(hint string) (int, map[string]interface{}) {
		oob := e.otpIdentify(hint)["oob_code"].(string)
		return e.otpSend(oob, "email-1")
	}
	for i := range 5 {
		status, body := send("1 Main St")
		require.Equal(t, http.StatusOK, status, "send %d: %v", i+1, body)
		smtp.Next(t)
	}
	oob := e.otpIdentify("1 main st")["oob_code"].(string) // the same identifier, typed differently
	req, err := http.NewRequest(http.MethodPost, e.url+"/oauth2/otp", strings.NewReader(url.Values{"oob_code": {oob}, "channel": {"email-1"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Authorization"] = kioskAuth["Authorization"]
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "3600", resp.Header.Get("Retry-After"))
	var body map[string]interface{}
	require.NoError(t, jsonDecode(resp.Body, &body))
	require.Equal(t, "temporarily_unavailable", body["error"])

	// Alice's account number answers as an identifier of nobody's would: 200, and here a mail.
	for i := range 5 {
		status, body := send("ACCT-1001")
		require.Equal(t, http.StatusOK, status, "send %d: %v", i+1, body)
		smtp.Next(t)
	}
	_, nobody := send("ACCT-9999")
	// Past ten codes for alice, her phone number still answers 200 with the same shape, and no mail
	// goes out.
	status, body := send("+1 555 123 4567")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, shapeOf(nobody), shapeOf(body))
	e.srv.OTP().Challenge.Flush()
	require.Len(t, smtp.Mails(), 10, "the per-person limit holds, silently")
}

// TestOTPUnknownIdentifierIsIndistinguishable: an identifier that names nobody gets the same status and
// the same JSON shape as one that names someone, at the identify and the send step; and the send step
// answers before the code is delivered, so the Sender's time (which only a real send spends) is not in
// the answer: here the Sender blocks until the test has both answers.
func TestOTPUnknownIdentifierIsIndistinguishable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	sender := &blockingSender{release: release}
	e := start(t, func(o *server.Options) { o.Sender = sender })
	known := e.otpIdentify("2 Oak Ave")
	unknown := e.otpIdentify("3 Elm Rd")
	require.Equal(t, shapeOf(known), shapeOf(unknown))
	require.Len(t, unknown["channels"], len(known["channels"].([]interface{})))
	require.Equal(t, unknown["channels"], e.otpIdentify("3  elm rd")["channels"], "repeated calls look stable")

	sk, bk := e.otpSend(known["oob_code"].(string), "sms-1")
	su, bu := e.otpSend(unknown["oob_code"].(string), "sms-1")
	require.Equal(t, sk, su)
	require.Equal(t, shapeOf(bk), shapeOf(bu))
	require.Zero(t, sender.sent.Load(), "both answered while the real code was still being sent")
	close(release)
	e.srv.OTP().Challenge.Flush()
	require.Equal(t, int64(1), sender.sent.Load(), "only the real account's code went out")
}

// blockingSender delivers nothing until release is closed.
type blockingSender struct {
	release chan struct{}
	sent    atomic.Int64
}

func (b *blockingSender) Send(ctx context.Context, _ notify.Message) error {
	select {
	case <-b.release:
		b.sent.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func shapeOf(m map[string]interface{}) []string {
	var keys []string
	for k, v := range m {
		kind := "other"
		switch v.(type) {
		case string:
			kind = "string"
		case float64:
			kind = "number"
		case []interface{}:
			kind = "list"
		}
		keys = append(keys, k+":"+kind)
	}
	sort.Strings(keys)
	return keys
}
