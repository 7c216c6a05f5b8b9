package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
)

// loginHintToken signs a login_hint_token as demo-ciba-token does (its registered DEMO key), or with
// key when given.
func (e *cibaEnv) loginHintToken(subID map[string]any, mod func(map[string]any), key *ecdsa.PrivateKey) string {
	e.t.Helper()
	kid := "some-key"
	if key == nil {
		var err error
		key, kid, err = server.DemoLoginHintTokenKey()
		require.NoError(e.t, err)
	}
	claims := map[string]any{"sub_id": subID, "aud": e.url, "exp": e.clock.Now().Add(5 * time.Minute).Unix()}
	if mod != nil {
		mod(claims)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	require.NoError(e.t, err)
	b, err := json.Marshal(claims)
	require.NoError(e.t, err)
	jws, err := s.Sign(b)
	require.NoError(e.t, err)
	tok, err := jws.CompactSerialize()
	require.NoError(e.t, err)
	return tok
}

func (e *cibaEnv) askWithToken(clientID, token string) (int, map[string]interface{}) {
	e.t.Helper()
	return e.bc(clientID, url.Values{"scope": {"openid"}, "login_hint_token": {token}, "binding_message": {"W4SCT"}})
}

// Seed 003's example request names the user with a login_hint_token: a JWT signed by a key the client
// registered, carrying an RFC 9493 subject identifier, resolved through the directory login_hint uses.
func TestCIBALoginHintToken(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)

	// dave by phone number: the request reaches his phone; his reply approves it.
	status, ack := e.askWithToken("demo-ciba-token", e.loginHintToken(map[string]any{"format": "phone_number", "phone_number": "+1 555 010 0004"}, nil, nil))
	require.Equal(t, http.StatusOK, status, "%v", ack)
	require.Nil(t, ack["user_code"])
	require.Equal(t, http.StatusOK, e.inbound(davePhone, "YES "+e.smsCode(), true))
	status, body := e.redeem("demo-ciba-token", ack["auth_req_id"].(string))
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "dave", subjectOf(t, body["id_token"].(string)))

	// alice by e-mail (CIBA Core's own example form too), carol by this server's issuer and subject.
	for _, tc := range []struct {
		subID map[string]any
		to    string
	}{
		{map[string]any{"format": "email", "email": "Alice@Example.com"}, "alice@example.com"},
		{map[string]any{"subject_type": "phone", "phone": "+15550100004"}, davePhone},
	} {
		n := e.outboxCount(tc.to)
		status, ack := e.askWithToken("demo-ciba-token", e.loginHintToken(tc.subID, nil, nil))
		require.Equal(t, http.StatusOK, status, "%v", ack)
		require.Equal(t, n+1, e.outboxCount(tc.to), "%v", tc.subID)
	}
	status, ack = e.askWithToken("demo-ciba-token", e.loginHintToken(map[string]any{"format": "iss_sub", "iss": e.url, "sub": "carol"}, nil, nil))
	require.Equal(t, http.StatusOK, status, "%v", ack)
	carol, err := e.srv.CIBA().Decider.Pending(t.Context(), "carol")
	require.NoError(t, err)
	require.Len(t, carol, 1)

	// Refused, with the CIBA Core §13 error, and nothing sent.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dave := map[string]any{"format": "opaque", "id": "dave"}
	n := e.outboxCount(davePhone)
	for _, tc := range []struct {
		name, token, want string
	}{
		{"expired", e.loginHintToken(dave, func(c map[string]any) { c["exp"] = e.clock.Now().Add(-time.Minute).Unix() }, nil), "expired_login_hint_token"},
		{"for another server", e.loginHintToken(dave, func(c map[string]any) { c["aud"] = "https://op.example" }, nil), "unknown_user_id"},
		{"without exp", e.loginHintToken(dave, func(c map[string]any) { delete(c, "exp") }, nil), "unknown_user_id"},
		{"signed by another key", e.loginHintToken(dave, nil, other), "unknown_user_id"},
		{"another server's subject", e.loginHintToken(map[string]any{"format": "iss_sub", "iss": "https://op.example", "sub": "dave"}, nil, nil), "unknown_user_id"},
		{"nobody", e.loginHintToken(map[string]any{"format": "email", "email": "nobody@example.com"}, nil, nil), "unknown_user_id"},
		{"not a JWT", "dave", "unknown_user_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.askWithToken("demo-ciba-token", tc.token)
			require.Equal(t, http.StatusBadRequest, status, "%v", body)
			require.Equal(t, tc.want, body["error"])
		})
	}
	require.Equal(t, n, e.outboxCount(davePhone))

	// A client without registered keys cannot name anyone with a token: with the fallback, the answer is
	// the enrolment's, whoever the token names.
	status, ack = e.askWithToken("demo-ciba-poll", e.loginHintToken(dave, nil, nil))
	require.Equal(t, http.StatusOK, status, "%v", ack)
	require.NotEmpty(t, ack["user_code"])
	require.Equal(t, n, e.outboxCount(davePhone))
}

// CIBA user codes (CIBA Core §7.1, §4): discovery and registration tell the truth, and demo-ciba-code's
// requests need the code the user set on the account page.
func TestCIBAUserCode(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	resp, err := http.Get(e.url + "/.well-known/openid-configuration")
	require.NoError(t, err)
	var disc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&disc))
	resp.Body.Close()
	require.Equal(t, true, disc["backchannel_user_code_parameter_supported"])

	body := `{"grant_types":["urn:openid:params:grant-type:ciba"],"token_endpoint_auth_method":"client_secret_basic","backchannel_token_delivery_mode":"poll","backchannel_user_code_parameter":true}`
	req, err := http.NewRequest(http.MethodPost, e.url+"/oauth2/register", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	status, reg := e.do(req)
	require.Equal(t, http.StatusCreated, status, "%v", reg)
	require.Equal(t, true, reg["backchannel_user_code_parameter"])

	ask := func(hint, code string) (int, map[string]interface{}) {
		form := url.Values{"scope": {"openid"}, "login_hint": {hint}, "binding_message": {"W4SCT"}}
		if code != "" {
			form.Set("user_code", code)
		}
		return e.bc("demo-ciba-code", form)
	}
	status, body2 := ask("alice", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "missing_user_code", body2["error"])
	status, body2 = ask("alice", "4711")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_user_code", body2["error"], "alice has set no code yet")

	b := e.browser("alice", "alice-password")
	_, page := b.get("/account")
	status, page = b.postForm("/account/user-code", url.Values{"csrf": {csrfOf(t, page)}, "action": {"set"}, "user_code": {"47"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "too short")
	status, page = b.postForm("/account/user-code", url.Values{"csrf": {csrfOf(t, page)}, "action": {"set"}, "user_code": {"4711"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "User code saved")

	n := e.outboxCount("alice@example.com")
	status, body2 = ask("alice", "4712")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_user_code", body2["error"])
	require.Equal(t, n, e.outboxCount("alice@example.com"), "a wrong code reached alice's device")
	status, body2 = ask("alice", "4711")
	require.Equal(t, http.StatusOK, status, "%v", body2)
	require.Equal(t, n+1, e.outboxCount("alice@example.com"))

	// Guessing is limited per user: past the limit even the right code is refused.
	for range 5 {
		ask("alice", "0000")
	}
	status, body2 = ask("alice", "4711")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_user_code", body2["error"])
}

// Seed 003's several devices: the account page lists, adds, names, prefers and removes them; a request
// goes to the preferred one, and answered anywhere it is closed everywhere.
func TestCIBASeveralDevices(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	b := e.browser("alice", "alice-password")
	devices := func(action string, form url.Values) (int, string) {
		_, page := b.get("/account")
		form.Set("csrf", csrfOf(t, page))
		form.Set("action", action)
		return b.postForm("/account/devices", form)
	}
	status, page := devices("add", url.Values{"kind": {"sms"}, "address": {"+1 555 123 4567"}, "name": {"Work phone"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Work phone")
	require.Contains(t, page, "A text message to &#43;15551234567")
	status, _ = devices("add", url.Values{"kind": {"sms"}, "address": {"not a number"}})
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = devices("rename", url.Values{"device": {"+15551234567"}, "name": {"bad\nname"}})
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = devices("prefer", url.Values{"device": {"+15559999999"}})
	require.Equal(t, http.StatusNotFound, status, "another's or no device")

	// Still preferred: the mailbox. A request goes there only.
	mails, texts := e.outboxCount("alice@example.com"), e.outboxCount("+15551234567")
	e.ask("demo-ciba-poll", "alice", nil)
	require.Equal(t, mails+1, e.outboxCount("alice@example.com"))
	require.Equal(t, texts, e.outboxCount("+15551234567"))

	status, page = devices("prefer", url.Values{"device": {"+15551234567"}})
	require.Equal(t, http.StatusOK, status, page)
	e.clock.Add(time.Second) // the /ciba page lists oldest first
	id := e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	require.Equal(t, mails+1, e.outboxCount("alice@example.com"), "the request went to a device that is not preferred")
	require.Equal(t, texts+1, e.outboxCount("+15551234567"))
	code := smsCodeRE.FindStringSubmatch(e.outboxMail("+15551234567").Text)[1]

	// Approved on the /ciba page, the request is closed on the phone: the reply changes nothing.
	_, list := b.get("/ciba")
	refs := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindAllStringSubmatch(list, -1)
	require.Len(t, refs, 2)
	status, _ = b.postForm("/ciba", url.Values{"csrf": {csrfOf(t, list)}, "ref": {refs[1][1]}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusOK, e.inbound("+15551234567", "NO "+code, true))
	require.Contains(t, e.outboxMail("+15551234567").Text, "already answered or has expired")
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "the late NO undid the approval: %v", body)

	// Removing the preferred device passes the mark on.
	status, page = devices("remove", url.Values{"device": {"+15551234567"}})
	require.Equal(t, http.StatusOK, status, page)
	require.NotContains(t, page, "<b>Work phone</b>")
	require.Contains(t, page, `id="preferred"`)
	e.ask("demo-ciba-poll", "alice", nil)
	require.Equal(t, mails+2, e.outboxCount("alice@example.com"))
}

// TestAccountPageInChromium: a person on a phone adds a device by text message and makes it the
// preferred one.
func TestAccountPageInChromium(t *testing.T) {
	ctx := headless(t)
	e := startCIBA(t)
	require.NoError(t, chromedp.Run(ctx, phone()))
	signInChromium(t, ctx, e.env, "dave", "/account")
	var done string
	require.NoError(t, chromedp.Run(ctx,
		chromedp.WaitVisible("#add", chromedp.ByQuery),
	))
	fitsPhone(t, ctx, "account")
	require.NoError(t, chromedp.Run(ctx,
		chromedp.SetValue("#kind", "email", chromedp.ByQuery),
		chromedp.SendKeys("#address", "dave@example.com", chromedp.ByQuery),
		chromedp.SendKeys("#name", "Mailbox", chromedp.ByQuery),
		chromedp.Click("#add", chromedp.ByQuery),
		chromedp.WaitVisible("#done", chromedp.ByQuery),
		chromedp.Click(`[id="device-dave@example.com"] button[value="prefer"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[id="device-dave@example.com"] .preferred`, chromedp.ByQuery),
		chromedp.Text("#done", &done, chromedp.ByQuery),
	))
	require.Contains(t, done, "requests reach you there first")
	fitsPhone(t, ctx, "account with two devices")
	n := e.outboxCount(davePhone)
	e.ask("demo-ciba-poll", "dave", nil)
	require.Contains(t, e.outboxMail("dave@example.com").Text, "Demo CIBA app (poll)")
	require.Equal(t, n, e.outboxCount(davePhone))
}

// Seed 001's audit trail of every decision, for CIBA too: each request, the approval by text reply, the
// redemption, the fallback's approval at the enrolment page (the request named nobody known yet) and a
// denial on /ciba are in the example's hash-chained audit log, under each request's ID, and the log
// still verifies.
func TestCIBADecisionsInAuditLog(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	id := e.ask("demo-ciba-poll", "dave", nil)["auth_req_id"].(string)
	require.Equal(t, http.StatusOK, e.inbound(davePhone, "YES "+e.smsCode(), true))
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)

	ack := e.ask("demo-ciba-poll", "bob", nil)
	b := e.browser("bob", "bob-password")
	code := ack["user_code"].(string)
	_, page := b.get("/ciba/enroll?entered=1&user_code=" + url.QueryEscape(code))
	status, page = b.postForm("/ciba/enroll", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {code}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status, page)

	e.ask("demo-ciba-poll", "carol", nil)
	c := e.browser("carol", "carol-password")
	_, list := c.get("/ciba")
	ref := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindStringSubmatch(list)[1]
	status, _ = c.postForm("/ciba", url.Values{"csrf": {csrfOf(t, list)}, "ref": {ref}, "action": {"deny"}})
	require.Equal(t, http.StatusOK, status)

	var got []string
	requests := map[string]bool{}
	for _, ev := range ksAuditEvents(t, e.env) {
		if ev.Grant == "ciba" {
			got = append(got, ev.Subject+" "+ev.Type[strings.LastIndexByte(ev.Type, '/')+1:])
			require.Equal(t, "demo-ciba-poll", ev.ClientID)
			requests[ev.RequestID] = true
		}
	}
	require.Equal(t, []string{
		"dave requested", "dave approved", "dave redeemed",
		" requested", "bob approved",
		"carol requested", "carol denied",
	}, got)
	require.Len(t, requests, 3, "one request ID per request")
	status, v := ksAuditVerify(t, e.env)
	require.Equal(t, http.StatusOK, status, "%v", v)
}
