package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/notify/notifytest"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

const cibaGrantType = "urn:openid:params:grant-type:ciba"

// cibaCallback is one ping or push callback as the client's notification endpoint received it.
type cibaCallback struct {
	Authorization string
	ContentType   string
	Body          map[string]interface{}
	Raw           []byte
}

// cibaReceiver is a client's backchannel_client_notification_endpoint (CIBA Core §10.2, §10.3): it
// answers 204 and hands each callback to the test through a channel.
type cibaReceiver struct {
	url string
	got chan cibaCallback
}

func newCIBAReceiver(t *testing.T) *cibaReceiver {
	r := &cibaReceiver{got: make(chan cibaCallback, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		cb := cibaCallback{Authorization: req.Header.Get("Authorization"), ContentType: req.Header.Get("Content-Type"), Raw: raw}
		_ = json.Unmarshal(raw, &cb.Body)
		r.got <- cb
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/cb"
	return r
}

// next waits for the next callback; the outbox worker delivers as soon as the decision commits.
func (r *cibaReceiver) next(t *testing.T) cibaCallback {
	t.Helper()
	select {
	case cb := <-r.got:
		return cb
	case <-time.After(30 * time.Second): // a deadline for a hung test, not a timing assertion
		t.Fatal("no cibaCallback arrived")
		return cibaCallback{}
	}
}

// cibaEnv is the example server with the ping and push clients' endpoints pointing at receivers.
type cibaEnv struct {
	*env
	ping, push *cibaReceiver
}

func startCIBA(t *testing.T, options ...func(*server.Options)) *cibaEnv {
	t.Helper()
	ping, push := newCIBAReceiver(t), newCIBAReceiver(t)
	opts := append([]func(*server.Options){func(o *server.Options) {
		o.CIBA.PingEndpoint, o.CIBA.PushEndpoint = ping.url, push.url
		o.CIBA.PollingInterval = 5 * time.Second
	}}, options...)
	return &cibaEnv{env: start(t, opts...), ping: ping, push: push}
}

func cibaBasic(clientID, secret string) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	return http.Header{"Authorization": req.Header["Authorization"]}
}

// bc sends a backchannel authentication request as clientID (CIBA Core §7.1).
func (e *cibaEnv) bc(clientID string, form url.Values) (int, map[string]interface{}) {
	e.t.Helper()
	return e.post("/oauth2/bc-authorize", form, cibaBasic(clientID, server.DemoCIBASecret))
}

// ask starts a request for loginHint as clientID and returns the acknowledgement.
func (e *cibaEnv) ask(clientID, loginHint string, extra url.Values) map[string]interface{} {
	e.t.Helper()
	form := url.Values{"scope": {"openid profile offline_access"}, "login_hint": {loginHint}, "binding_message": {"W4SCT"}}
	if !strings.HasSuffix(clientID, "-poll") {
		form.Set("client_notification_token", "notif-"+strings.Repeat("x", 40))
	}
	for k, v := range extra {
		form[k] = v
	}
	status, body := e.bc(clientID, form)
	require.Equal(e.t, http.StatusOK, status, "%v", body)
	require.NotEmpty(e.t, body["auth_req_id"])
	return body
}

// redeem polls the token endpoint once (CIBA Core §10.1).
func (e *cibaEnv) redeem(clientID, authReqID string) (int, map[string]interface{}) {
	e.t.Helper()
	return e.post("/oauth2/token", url.Values{"grant_type": {cibaGrantType}, "auth_req_id": {authReqID}}, cibaBasic(clientID, server.DemoCIBASecret))
}

// outboxMail returns the newest message the dev outbox holds for to.
func (e *cibaEnv) outboxMail(to string) notify.Message {
	e.t.Helper()
	resp, err := http.Get(e.url + "/dev/outbox?format=json")
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var msgs []notify.Message
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&msgs))
	for _, m := range msgs {
		if m.To == to {
			return m
		}
	}
	e.t.Fatalf("no message to %s in the outbox", to)
	return notify.Message{}
}

func (e *cibaEnv) outboxCount(to string) int {
	e.t.Helper()
	resp, err := http.Get(e.url + "/dev/outbox?format=json")
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var msgs []notify.Message
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&msgs))
	n := 0
	for _, m := range msgs {
		if m.To == to {
			n++
		}
	}
	return n
}

var cibaLinkRE = regexp.MustCompile(`http://[^\s"<>]+/ciba/link/[A-Za-z0-9_-]+`)

func cibaLinkIn(t *testing.T, text string) string {
	t.Helper()
	l := cibaLinkRE.FindString(text)
	require.NotEmpty(t, l, "no link in %q", text)
	return l
}

// cibaPage is a person's browser without a session: the link page needs none.
func cibaPage(t *testing.T, method, link string) (int, string) {
	t.Helper()
	var (
		resp *http.Response
		err  error
	)
	if method == http.MethodGet {
		resp, err = http.Get(link)
	} else {
		tok := link[strings.LastIndexByte(link, '/')+1:]
		resp, err = http.PostForm(link, url.Values{"token": {tok}, "action": {method}})
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// cibaIDClaims verifies an ID token with the server's JWKS and returns all its claims.
func cibaIDClaims(t *testing.T, e *env, raw string) map[string]interface{} {
	t.Helper()
	verifyIDToken(t, e, raw)
	tok, err := jwt.ParseSigned(raw)
	require.NoError(t, err)
	var all map[string]interface{}
	require.NoError(t, tok.UnsafeClaimsWithoutVerification(&all))
	return all
}

// TestCIBAPollWithEmailLink: poll mode end to end. alice's authentication device is her e-mail: the
// request sends her a link; she opens it, sees the client, the scopes and the binding message, and
// approves; the client's next poll gets tokens for alice. The used link then changes nothing.
func TestCIBAPollWithEmailLink(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	ack := e.ask("demo-ciba-poll", "alice@example.com", nil)
	id := ack["auth_req_id"].(string)
	require.EqualValues(t, 5, ack["interval"])
	require.EqualValues(t, 600, ack["expires_in"])
	require.NotContains(t, ack, "user_code", "alice has a device: no enrolment")

	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "authorization_pending", body["error"])

	m := e.outboxMail("alice@example.com")
	require.Contains(t, m.Subject, "Demo CIBA app (poll)")
	require.Contains(t, m.Text, "W4SCT")
	require.Contains(t, m.Text, "keep access while you are away")
	link := cibaLinkIn(t, m.Text)
	status, html := cibaPage(t, http.MethodGet, link)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, html, "Demo CIBA app (poll)")
	require.Contains(t, html, "W4SCT")
	status, html = cibaPage(t, "approve", link)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, html, "Approved")

	e.clock.Add(5 * time.Second)
	status, body = e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.NotEmpty(t, body["access_token"])
	require.NotEmpty(t, body["refresh_token"])
	claims := cibaIDClaims(t, e.env, body["id_token"].(string))
	require.Equal(t, "alice", claims["sub"])
	require.Equal(t, "demo-ciba-poll", claims["aud"].([]interface{})[0])

	// The access token works.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	status, info := e.do(req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Alice Liddell", info["name"])

	// A reused link shows "already used" and changes nothing: no denial after the approval.
	status, html = cibaPage(t, "deny", link)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, html, "already used")
	status, html = cibaPage(t, http.MethodGet, link)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, html, "approved with it")

	// The auth_req_id is single use (CIBA §10.1, RFC 6749 §4.1.2 by analogy).
	e.clock.Add(5 * time.Second)
	status, body = e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", body["error"])
}

// approveOnCIBAPage opens the signed-in user's /ciba page (the demo authentication device), checks that
// it shows the request with want, approves it there and returns the page that says so.
func approveOnCIBAPage(t *testing.T, b *browser, want ...string) string {
	t.Helper()
	status, html := b.get("/ciba")
	require.Equal(t, http.StatusOK, status)
	for _, w := range want {
		require.Contains(t, html, w)
	}
	ref := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindStringSubmatch(html)
	require.NotNil(t, ref)
	status, html = b.postForm("/ciba", url.Values{"csrf": {csrfOf(t, html)}, "ref": {ref[1]}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, html, "Approved")
	return html
}

// TestCIBAPingThroughTheDemoDevicePage: ping mode. alice approves on the demo authentication device
// page (/ciba); the outbox worker pings the client with exactly {"auth_req_id"} and its bearer
// token (§10.2); the client then fetches the tokens.
func TestCIBAPingThroughTheDemoDevicePage(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	ack := e.ask("demo-ciba-ping", "alice", url.Values{"client_notification_token": {"ping-token-0123456789abcdefghij"}})
	id := ack["auth_req_id"].(string)

	html := approveOnCIBAPage(t, e.browser("alice", "alice-password"), "Demo CIBA app (ping)", "W4SCT")
	require.NotContains(t, html, "W4SCT", "the request is no longer pending")

	// The e-mail link alice also got now shows the request as closed, and cannot deny it.
	link := cibaLinkIn(t, e.outboxMail("alice@example.com").Text)
	status, html := cibaPage(t, http.MethodGet, link)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, html, "closed")
	status, _ = cibaPage(t, "deny", link)
	require.Equal(t, http.StatusConflict, status)

	cb := e.ping.next(t)
	require.Equal(t, "Bearer ping-token-0123456789abcdefghij", cb.Authorization)
	require.Contains(t, cb.ContentType, "application/json")
	require.Equal(t, map[string]interface{}{"auth_req_id": id}, cb.Body, "the ping carries auth_req_id and nothing else")

	status, body := e.redeem("demo-ciba-ping", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "alice", cibaIDClaims(t, e.env, body["id_token"].(string))["sub"])
}

// TestCIBAInAppDevice: carol's authentication device is the /ciba page (an in-app device): her
// request sends no message at all; she finds it when she opens the page, approves, and the client's
// next poll gets tokens for carol.
func TestCIBAInAppDevice(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	ack := e.ask("demo-ciba-poll", "carol", url.Values{"binding_message": {"K7"}})
	id := ack["auth_req_id"].(string)
	require.NotContains(t, ack, "user_code", "carol has a device: no enrolment")
	require.Zero(t, e.outboxCount("carol@example.com"), "an in-app device gets no message")

	approveOnCIBAPage(t, e.browser("carol", "carol-password"), "Demo CIBA app (poll)", "K7")

	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "carol", cibaIDClaims(t, e.env, body["id_token"].(string))["sub"])
}

// TestCIBAPushThroughTheAdminAPI: push mode. The admin API approves by auth_req_id; the tokens
// arrive at the client's endpoint (§10.3.1) with an ID token carrying at_hash, rt_hash and the
// auth_req_id claim (§10.3.1); the push client cannot use the token endpoint.
func TestCIBAPushThroughTheAdminAPI(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	ack := e.ask("demo-ciba-push", "alice", url.Values{"client_notification_token": {"push-token-0123456789abcdefghij"}})
	id := ack["auth_req_id"].(string)
	require.NotContains(t, ack, "interval", "push clients do not poll (§7.3)")

	status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {id}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "approved", body["status"])
	require.Equal(t, "alice", body["subject"])

	cb := e.push.next(t)
	require.Equal(t, "Bearer push-token-0123456789abcdefghij", cb.Authorization)
	require.Equal(t, id, cb.Body["auth_req_id"])
	require.NotEmpty(t, cb.Body["access_token"])
	require.NotEmpty(t, cb.Body["refresh_token"])
	require.Equal(t, "bearer", strings.ToLower(cb.Body["token_type"].(string)))
	claims := cibaIDClaims(t, e.env, cb.Body["id_token"].(string))
	require.Equal(t, "alice", claims["sub"])
	require.Equal(t, id, claims["urn:openid:params:jwt:claim:auth_req_id"])
	require.NotEmpty(t, claims["at_hash"])
	require.NotEmpty(t, claims["urn:openid:params:jwt:claim:rt_hash"])

	req, _ := http.NewRequest(http.MethodGet, e.url+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+cb.Body["access_token"].(string))
	status, info := e.do(req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice", info["sub"])

	status, body = e.redeem("demo-ciba-push", id)
	require.Equal(t, http.StatusBadRequest, status)
	require.NotEqual(t, "", body["error"])

	// Deciding again changes nothing.
	status, body = e.admin("/admin/ciba/deny", url.Values{"auth_req_id": {id}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", body["error"])
}

// TestCIBADenials: a denial reaches each mode as access_denied: poll at the token endpoint, ping by a
// ping then the token endpoint, push as a §12 error callback.
func TestCIBADenials(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	for _, mode := range []string{"poll", "ping", "push"} {
		client := "demo-ciba-" + mode
		id := e.ask(client, "alice", nil)["auth_req_id"].(string)
		status, html := cibaPage(t, "deny", cibaLinkIn(t, e.outboxMail("alice@example.com").Text))
		require.Equal(t, http.StatusOK, status, mode)
		require.Contains(t, html, "Denied")
		switch mode {
		case "poll":
		case "ping":
			require.Equal(t, map[string]interface{}{"auth_req_id": id}, e.ping.next(t).Body)
		case "push":
			cb := e.push.next(t)
			require.Equal(t, map[string]interface{}{"auth_req_id": id, "error": "access_denied", "error_description": cb.Body["error_description"]}, cb.Body)
			continue
		}
		status, body := e.redeem(client, id)
		require.Equal(t, http.StatusBadRequest, status, mode)
		require.Equal(t, "access_denied", body["error"], mode)
	}
}

// TestCIBAEnrollmentFallback: bob has no authentication device. The request is answered with a user
// code and the enrolment page (this module's extension) instead of unknown_user_id; bob signs in
// there, links his e-mail and approves, and the client polls tokens for him. A second request for
// bob then takes the normal path: a link in his mailbox.
func TestCIBAEnrollmentFallback(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	ack := e.ask("demo-ciba-poll", "bob", nil)
	id := ack["auth_req_id"].(string)
	code, _ := ack["user_code"].(string)
	require.Regexp(t, `^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`, code)
	require.Equal(t, e.url+"/ciba/enroll", ack["verification_uri"])
	require.Equal(t, e.url+"/ciba/enroll?user_code="+code, ack["verification_uri_complete"])
	require.Zero(t, e.outboxCount("bob@example.com"), "nothing can reach bob yet")

	// Someone nobody knows gets the same shape, so the answer does not reveal who has an account.
	other := e.ask("demo-ciba-poll", "nobody@example.com", nil)
	require.ElementsMatch(t, cibaKeys(ack), cibaKeys(other))

	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, "authorization_pending", body["error"], "%d", status)

	b := e.browser("bob", "bob-password")
	status, html := b.get("/ciba/enroll?user_code=" + url.QueryEscape(code))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, html, code)
	require.Contains(t, html, "Check the code", "arriving by link warns about remote phishing (RFC 8628 §5.4)")
	require.Contains(t, html, "bob@example.com")
	require.Contains(t, html, "W4SCT")
	status, html = b.postForm("/ciba/enroll", url.Values{"csrf": {csrfOf(t, html)}, "user_code": {code}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, html, "Device linked")

	e.clock.Add(5 * time.Second)
	status, body = e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "bob", cibaIDClaims(t, e.env, body["id_token"].(string))["sub"])

	// The code is spent.
	status, html = b.get("/ciba/enroll?user_code=" + url.QueryEscape(code))
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, html, "does not match any app waiting for you")

	// Next time bob is reached on the device he linked.
	ack = e.ask("demo-ciba-poll", "bob", nil)
	require.NotContains(t, ack, "user_code")
	status, _ = cibaPage(t, "approve", cibaLinkIn(t, e.outboxMail("bob@example.com").Text))
	require.Equal(t, http.StatusOK, status)
	e.clock.Add(5 * time.Second)
	status, body = e.redeem("demo-ciba-poll", ack["auth_req_id"].(string))
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "bob", cibaIDClaims(t, e.env, body["id_token"].(string))["sub"])
}

func cibaKeys(m map[string]interface{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCIBAEmailLinkOverSMTP: the link reaches alice through a real SMTP server (STARTTLS, AUTH); the
// test reads the mail as it arrived, follows the link, approves, and the client gets tokens.
func TestCIBAEmailLinkOverSMTP(t *testing.T) {
	t.Parallel()
	smtpd := notifytest.NewSMTPServer(t)
	cfg := smtpd.Config()
	cfg.From = "Example Sign-in <no-reply@example.com>"
	sender, err := notify.NewSMTP(cfg)
	require.NoError(t, err)
	e := startCIBA(t, func(o *server.Options) { o.Sender = sender })

	id := e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	m := smtpd.Next(t)
	require.Equal(t, []string{"alice@example.com"}, m.To)
	require.True(t, m.TLS)
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Demo CIBA app (poll) asks you to sign in", subject)
	text := cibaMailText(t, m.Raw)
	require.Contains(t, text, "W4SCT")
	link := cibaLinkIn(t, text)
	require.NotContains(t, text, id, "the auth_req_id never leaves the client and the server")

	status, _ := cibaPage(t, "approve", link)
	require.Equal(t, http.StatusOK, status)
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "alice", cibaIDClaims(t, e.env, body["id_token"].(string))["sub"])
}

// cibaMailText returns the text/plain body of a MIME message, decoded.
func cibaMailText(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	text, ok := cibaTextPart(t, cibaHeaderOf(msg.Header), msg.Body)
	require.True(t, ok, "no text/plain part")
	return text
}

type cibaHeader interface{ Get(string) string }

func cibaHeaderOf(h mail.Header) cibaHeader { return h }

func cibaTextPart(t *testing.T, h cibaHeader, body io.Reader) (string, bool) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	require.NoError(t, err)
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return "", false
			}
			require.NoError(t, err)
			if s, ok := cibaTextPart(t, p.Header, p); ok {
				return s, true
			}
		}
	}
	if mt != "text/plain" {
		return "", false
	}
	var rd io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		rd = quotedprintable.NewReader(body)
	case "base64":
		rd = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(rd)
	require.NoError(t, err)
	return string(b), true
}

// TestCIBAExpiredLink: once the request has expired, its link shows "expired" and changes nothing;
// the client gets expired_token.
func TestCIBAExpiredLink(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	id := e.ask("demo-ciba-poll", "alice", url.Values{"requested_expiry": {"120"}})["auth_req_id"].(string)
	link := cibaLinkIn(t, e.outboxMail("alice@example.com").Text)
	e.clock.Add(120 * time.Second)
	status, html := cibaPage(t, http.MethodGet, link)
	require.Equal(t, http.StatusGone, status)
	require.Contains(t, html, "expired")
	status, _ = cibaPage(t, "approve", link)
	require.Equal(t, http.StatusGone, status)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "expired_token", body["error"])
}

// TestCIBAPushExpiry: a push client whose request expires unanswered is told so (§12 expired_token).
func TestCIBAPushExpiry(t *testing.T) {
	t.Parallel()
	e := startCIBA(t)
	id := e.ask("demo-ciba-push", "alice", nil)["auth_req_id"].(string)
	e.clock.Add(10 * time.Minute)
	n, err := e.srv.CIBA().Decider.ExpirePush(context.Background(), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = e.srv.DrainOutbox(context.Background())
	require.NoError(t, err)
	cb := e.push.next(t)
	require.Equal(t, id, cb.Body["auth_req_id"])
	require.Equal(t, "expired_token", cb.Body["error"])
}

// TestCIBALinkKnowledgeCheck: a server that asks for a date of birth on the link page: a wrong answer
// changes nothing; the right one approves.
func TestCIBALinkKnowledgeCheck(t *testing.T) {
	t.Parallel()
	e := startCIBA(t, func(o *server.Options) { o.CIBA.AskDateOfBirth = true })
	id := e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	link := cibaLinkIn(t, e.outboxMail("alice@example.com").Text)
	tok := link[strings.LastIndexByte(link, '/')+1:]
	_, html := cibaPage(t, http.MethodGet, link)
	require.Contains(t, html, `name="birthdate"`)

	resp, err := http.PostForm(link, url.Values{"token": {tok}, "action": {"approve"}, "birthdate": {"2000-01-01"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	e.clock.Add(5 * time.Second)
	_, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, "authorization_pending", body["error"])

	resp, err = http.PostForm(link, url.Values{"token": {tok}, "action": {"approve"}, "birthdate": {"1865-11-26"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	e.clock.Add(5 * time.Second)
	status, body := e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

var _ = jose.RS256

// TestCIBAOnSQLite runs push and poll through the example on the SQL store (SQLite): the links, the
// CIBA records and the outbox all live in the database.
func TestCIBAOnSQLite(t *testing.T) {
	t.Parallel()
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := startCIBA(t, func(o *server.Options) { o.Store = store })

	push := e.ask("demo-ciba-push", "alice", nil)["auth_req_id"].(string)
	link := cibaLinkIn(t, e.outboxMail("alice@example.com").Text)
	status, _ := cibaPage(t, "approve", link)
	require.Equal(t, http.StatusOK, status)
	cb := e.push.next(t)
	require.Equal(t, push, cb.Body["auth_req_id"])
	require.NotEmpty(t, cb.Body["access_token"])
	status, html := cibaPage(t, http.MethodGet, link)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, html, "already used")

	poll := e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	status, _ = cibaPage(t, "deny", cibaLinkIn(t, e.outboxMail("alice@example.com").Text))
	require.Equal(t, http.StatusOK, status)
	status, body := e.redeem("demo-ciba-poll", poll)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "access_denied", body["error"])
}
