package linkchannel_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/storage/memory"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// clock is an injected clock the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// decision is what the page asked the Decider to do.
type decision struct {
	Ref, Subject string
	Approved     bool
	Scopes       []string
}

// recorder stands in for ciba.Decider (whose own tests cover it) and records the decisions; err, when
// set, is what it answers.
type recorder struct {
	mu        sync.Mutex
	decisions []decision
	err       error
}

func (r *recorder) Lookup(_ context.Context, ref, subject string) (*ciba.Request, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	return &ciba.Request{Ref: ref, Subject: subject}, nil
}

func (r *recorder) Approve(_ context.Context, ref string, d pending.Decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if d.Session.(*openid.DefaultSession).Claims.Subject != d.Subject {
		return errors.New("session subject mismatch")
	}
	r.decisions = append(r.decisions, decision{Ref: ref, Subject: d.Subject, Approved: true, Scopes: d.GrantedScopes})
	return nil
}

func (r *recorder) Deny(_ context.Context, ref, subject string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.decisions = append(r.decisions, decision{Ref: ref, Subject: subject})
	return nil
}

func (r *recorder) all() []decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]decision(nil), r.decisions...)
}

type fixture struct {
	t       testing.TB
	ch      *linkchannel.Channel
	outbox  *notify.Outbox
	store   *memory.CIBALinkStore
	decider *recorder
	clock   *clock
	srv     *httptest.Server
}

var secret = []byte("0123456789abcdef0123456789abcdef")

func newFixture(t testing.TB, mod func(*linkchannel.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, outbox: notify.NewOutbox(10), store: &memory.CIBALinkStore{}, decider: &recorder{},
		clock: &clock{t: time.Unix(1_800_000_000, 0).UTC()}}
	f.srv = httptest.NewUnstartedServer(nil)
	cfg := linkchannel.Config{
		Sender:  f.outbox,
		Store:   f.store,
		Secrets: &fosite.Config{GlobalSecret: secret},
		LinkURL: "http://" + f.srv.Listener.Addr().String() + "/l",
		Decider: f.decider,
		NewSession: func(_ context.Context, subject string, authTime time.Time) fosite.Session {
			return &openid.DefaultSession{Subject: subject, Claims: &jwt.IDTokenClaims{Subject: subject, AuthTime: authTime}}
		},
		Now: f.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	ch, err := linkchannel.New(cfg)
	require.NoError(t, err)
	f.ch = ch
	mux := http.NewServeMux()
	mux.Handle("/l/", ch.Handler())
	f.srv.Config.Handler = mux
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// request is a CIBA request as the core hands it to the channel.
func (f *fixture) request() ciba.Request {
	return ciba.Request{
		Ref: "ref-1", Subject: "alice", ClientID: "shop", ClientName: "Corner Shop", Mode: ciba.ModePoll,
		BindingMessage: "W4SCT <script>", Scopes: []string{"openid", "email", "payments"},
		CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(10 * time.Minute),
	}
}

// notify sends the request to alice's e-mail and returns the message and its link.
func (f *fixture) notify(devices ...ciba.Device) (notify.Message, string) {
	f.t.Helper()
	if devices == nil {
		devices = []ciba.Device{{ID: "alice@example.com", Kind: "email"}}
	}
	before := len(f.outbox.Messages())
	require.NoError(f.t, f.ch.Notify(context.Background(), ciba.Notification{Request: f.request(), Devices: devices}))
	msgs := f.outbox.Messages()
	require.Len(f.t, msgs, before+1)
	m := msgs[0] // newest first
	return m, linkOf(f.t, m.Text)
}

var linkRE = regexp.MustCompile(`https?://\S+/l/[A-Za-z0-9_-]+`)

func linkOf(t testing.TB, text string) string {
	t.Helper()
	l := linkRE.FindString(text)
	require.NotEmpty(t, l, "no link in %q", text)
	return l
}

func tokenOf(link string) string { return link[strings.LastIndexByte(link, '/')+1:] }

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), got)
}

func TestEmailLinkApproveOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m, link := f.notify()
	require.Equal(t, notify.Email, m.Channel)
	require.Equal(t, "alice@example.com", m.To)
	require.Equal(t, "Corner Shop asks you to sign in", m.Subject)
	require.Equal(t, "en", m.Locale)
	require.Len(t, tokenOf(link), linkchannel.TokenLength)
	golden(t, "email.txt", strings.ReplaceAll(m.Text, link, "{{LINK}}"))
	require.Contains(t, m.HTML, "W4SCT &lt;script&gt;", "the HTML body escapes the binding message")

	// GET shows the request and changes nothing (mail scanners open links).
	for i := 0; i < 2; i++ {
		status, page, h := get(t, link)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Corner Shop")
		require.Contains(t, page, "see your e-mail address")
		require.Contains(t, page, "payments", "an unknown scope is shown by name")
		require.Contains(t, page, "W4SCT &lt;script&gt;")
		require.NotContains(t, page, "<script>")
		require.Equal(t, "no-store", h.Get("Cache-Control"))
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Empty(t, h.Values("Set-Cookie"))
	}
	require.Empty(t, f.decider.all())

	status, page := post(t, link, url.Values{"token": {tokenOf(link)}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "Approved")
	require.Equal(t, []decision{{Ref: "ref-1", Subject: "alice", Approved: true, Scopes: []string{"openid", "email", "payments"}}}, f.decider.all())

	// A used link shows "already used" and changes nothing, whatever is asked.
	status, page, _ = get(t, link)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, page, "already used")
	require.Contains(t, page, "approved with it")
	status, page = post(t, link, url.Values{"token": {tokenOf(link)}, "action": {"deny"}})
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, page, "already used")
	require.Len(t, f.decider.all(), 1)
}

func TestEmailLinkDeny(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, link := f.notify()
	status, page := post(t, link, url.Values{"token": {tokenOf(link)}, "action": {"deny"}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "Denied")
	require.Equal(t, []decision{{Ref: "ref-1", Subject: "alice"}}, f.decider.all())
}

func TestExpiredLinkChangesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		maxLifetime time.Duration
		wait        time.Duration
	}{
		{"with the request", 0, 10 * time.Minute},
		{"capped by MaxLifetime", 2 * time.Minute, 2 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *linkchannel.Config) { c.MaxLifetime = tc.maxLifetime })
			_, link := f.notify()
			f.clock.Add(tc.wait - time.Second)
			status, _, _ := get(t, link)
			require.Equal(t, http.StatusOK, status, "still valid a second before")
			f.clock.Add(time.Second)
			status, page, _ := get(t, link)
			require.Equal(t, http.StatusGone, status)
			require.Contains(t, page, "expired")
			status, _ = post(t, link, url.Values{"token": {tokenOf(link)}, "action": {"approve"}})
			require.Equal(t, http.StatusGone, status)
			require.Empty(t, f.decider.all())
		})
	}
}

func TestSMSLinkIsShort(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m, link := f.notify(ciba.Device{ID: "+14155550100", Kind: "sms"}, ciba.Device{ID: "app-123", Kind: "app"})
	require.Equal(t, notify.SMS, m.Channel)
	require.Equal(t, "+14155550100", m.To)
	require.Equal(t, "Corner Shop sign-in \"W4SCT <script>\". Approve or deny: "+link+"\n", m.Text)
	require.LessOrEqual(t, len(m.Text)-len(link), 100)
	status, _ := post(t, link, url.Values{"token": {tokenOf(link)}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
}

func TestEveryDeviceGetsItsOwnLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	require.NoError(t, f.ch.Notify(context.Background(), ciba.Notification{Request: f.request(), Devices: []ciba.Device{
		{ID: "alice@example.com", Kind: "email"}, {ID: "+14155550100", Kind: "sms"},
	}}))
	msgs := f.outbox.Messages()
	require.Len(t, msgs, 2)
	a, b := linkOf(t, msgs[0].Text), linkOf(t, msgs[1].Text)
	require.NotEqual(t, a, b)
	status, _ := post(t, a, url.Values{"token": {tokenOf(a)}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	// The core has the request no longer pending; the other link then shows it as closed.
	f.decider.err = ciba.ErrRequestNotFound
	status, page, _ := get(t, b)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, page, "closed")
	status, page = post(t, b, url.Values{"token": {tokenOf(b)}, "action": {"deny"}})
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, page, "closed")
	require.Len(t, f.decider.all(), 1)
	// And the refused link is not spent: the store still has it unused.
	f.decider.err = nil
	status, _, _ = get(t, b)
	require.Equal(t, http.StatusOK, status)
}

func TestLocalisedMessage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *linkchannel.Config) {
		c.RecipientOf = func(_ context.Context, _ string, d ciba.Device) (linkchannel.Recipient, bool, error) {
			return linkchannel.Recipient{To: d.ID, Channel: notify.Email, Locale: "de-CH"}, true, nil
		}
	})
	m, _ := f.notify()
	require.Equal(t, "de", m.Locale)
	require.Equal(t, "Corner Shop bittet Sie um Anmeldung", m.Subject)
	require.Contains(t, m.Text, "Ihre E-Mail-Adresse sehen")
}

func TestNotifyFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	err := f.ch.Notify(ctx, ciba.Notification{Request: f.request(), Devices: []ciba.Device{{ID: "x", Kind: "app"}}})
	require.ErrorIs(t, err, notify.ErrPermanent, "no device this channel can reach")
	err = f.ch.Notify(ctx, ciba.Notification{Request: f.request(), Devices: []ciba.Device{{ID: "not an address", Kind: "email"}}})
	require.ErrorIs(t, err, notify.ErrInvalidMessage)
	expired := f.request()
	expired.ExpiresAt = f.clock.Now()
	err = f.ch.Send(ctx, linkchannel.Recipient{To: "a@example.com", Channel: notify.Email}, expired)
	require.ErrorIs(t, err, notify.ErrPermanent)
	require.Empty(t, f.outbox.Messages())

	failing := newFixture(t, func(c *linkchannel.Config) {
		c.Sender = notify.SenderFunc(func(context.Context, notify.Message) error { return notify.Temporary(errors.New("smtp down")) })
	})
	err = failing.ch.Notify(ctx, ciba.Notification{Request: failing.request(), Devices: []ciba.Device{{ID: "a@example.com", Kind: "email"}}})
	require.True(t, notify.Retryable(err))
}

func TestBadLinksNeverDecide(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, link := f.notify()
	tok := tokenOf(link)
	base := strings.TrimSuffix(link, tok)
	tampered := []byte(tok)
	tampered[len(tampered)-1] ^= 1
	cases := []struct{ name, token string }{
		{"empty", ""},
		{"short", tok[:10]},
		{"long", tok + "A"},
		{"tampered tag", string(tampered)},
		{"not base64", strings.Repeat("!", linkchannel.TokenLength)},
		{"well-formed but never sent", strings.Repeat("A", linkchannel.TokenLength)},
		{"path tricks", "..%2F..%2Fetc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, page, _ := get(t, base+tc.token)
			require.Equal(t, http.StatusNotFound, status)
			require.Contains(t, page, "not valid")
			status, _ = post(t, base+tc.token, url.Values{"token": {tc.token}, "action": {"approve"}})
			require.Equal(t, http.StatusNotFound, status)
		})
	}
	// The right token with a bad action asks again; nothing is decided.
	status, page := post(t, link, url.Values{"token": {tok}, "action": {"maybe"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "Choose Approve or Deny")
	status, _ = post(t, link, url.Values{"token": {tok}, "action": {"approve"}, "junk": {strings.Repeat("x", 20<<10)}})
	require.Equal(t, http.StatusBadRequest, status, "an oversized form is refused")
	req, _ := http.NewRequest(http.MethodDelete, link, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Empty(t, f.decider.all())
	// And the link still works.
	status, _ = post(t, link, url.Values{"token": {tok}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
}

func TestConcurrentSubmissionsDecideOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, link := f.notify()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.PostForm(link, url.Values{"token": {tokenOf(link)}, "action": {"approve"}})
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	require.Len(t, f.decider.all(), 1)
}

// dateOfBirth is a knowledge check asking for a date of birth.
type dateOfBirth map[string]string

func (d dateOfBirth) Fields(_ context.Context, subject string) []linkchannel.Field {
	if _, ok := d[subject]; !ok {
		return nil
	}
	return []linkchannel.Field{{Name: "dob", Label: "Date of birth", Type: "date", Autocomplete: "bday"}}
}

func (d dateOfBirth) Verify(_ context.Context, subject string, form url.Values) error {
	if form.Get("dob") != d[subject] {
		return linkchannel.ErrWrongAnswer
	}
	return nil
}

func TestKnowledgeCheck(t *testing.T) {
	t.Parallel()
	attempts := memory.New()
	f := newFixture(t, func(c *linkchannel.Config) {
		c.Knowledge = dateOfBirth{"alice": "1990-04-01"}
		c.Limiter = &pending.Limiter{Storage: attempts, Scope: "ciba-link", Limits: pending.Limits{PerAccount: 3, Window: 15 * time.Minute}}
	})
	_, link := f.notify()
	tok := tokenOf(link)
	_, page, _ := get(t, link)
	require.Contains(t, page, `name="dob" type="date" autocomplete="bday"`)

	for i := 0; i < 3; i++ {
		status, page := post(t, link, url.Values{"token": {tok}, "action": {"approve"}, "dob": {"2000-01-01"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, page, "do not match")
	}
	// The limit is reached: even the right answer is refused for now, and the link is not spent.
	status, page := post(t, link, url.Values{"token": {tok}, "action": {"approve"}, "dob": {"1990-04-01"}})
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Contains(t, page, "Too many wrong answers")
	require.Empty(t, f.decider.all())
	// Denying needs no answer.
	status, _, _ = get(t, link)
	require.Equal(t, http.StatusOK, status)

	f.clock.Add(15 * time.Minute) // also past the request's expiry: send a fresh link
	_, link = f.notify()
	status, _ = post(t, link, url.Values{"token": {tokenOf(link)}, "action": {"approve"}, "dob": {"1990-04-01"}})
	require.Equal(t, http.StatusOK, status)
	require.Len(t, f.decider.all(), 1)
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	good := func() linkchannel.Config {
		return linkchannel.Config{
			Sender: notify.NewOutbox(1), Store: &memory.CIBALinkStore{}, Secrets: &fosite.Config{GlobalSecret: secret},
			LinkURL: "https://id.example.com/l", Decider: &recorder{},
			NewSession: func(context.Context, string, time.Time) fosite.Session { return nil },
		}
	}
	cases := []struct {
		name string
		mod  func(*linkchannel.Config)
	}{
		{"no sender", func(c *linkchannel.Config) { c.Sender = nil }},
		{"no store", func(c *linkchannel.Config) { c.Store = nil }},
		{"no secrets", func(c *linkchannel.Config) { c.Secrets = nil }},
		{"short secret", func(c *linkchannel.Config) { c.Secrets = &fosite.Config{GlobalSecret: []byte("short")} }},
		{"no decider", func(c *linkchannel.Config) { c.Decider = nil }},
		{"no session", func(c *linkchannel.Config) { c.NewSession = nil }},
		{"relative URL", func(c *linkchannel.Config) { c.LinkURL = "/l" }},
		{"URL with query", func(c *linkchannel.Config) { c.LinkURL = "https://id.example.com/l?x=1" }},
		{"knowledge without limiter", func(c *linkchannel.Config) { c.Knowledge = dateOfBirth{} }},
		{"negative lifetime", func(c *linkchannel.Config) { c.MaxLifetime = -time.Second }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mod(&c)
			_, err := linkchannel.New(c)
			require.Error(t, err)
		})
	}
	_, err := linkchannel.New(good())
	require.NoError(t, err)
}

// rotatingSecret is a GlobalSecretProvider whose secret an operator can replace.
type rotatingSecret struct {
	mu     sync.Mutex
	secret []byte
}

func (r *rotatingSecret) GetGlobalSecret(context.Context) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secret, nil
}

func (r *rotatingSecret) set(b []byte) { r.mu.Lock(); r.secret = b; r.mu.Unlock() }

// TestRotatedSecretRetiresLinks: the channel keeps the keys it derives from the global secret, but
// notices a new secret on the next use: links sent before stop working, new ones work.
func TestRotatedSecretRetiresLinks(t *testing.T) {
	t.Parallel()
	rs := &rotatingSecret{secret: secret}
	f := newFixture(t, func(c *linkchannel.Config) { c.Secrets = rs })
	_, old := f.notify()
	status, _, _ := get(t, old)
	require.Equal(t, http.StatusOK, status)

	rs.set([]byte("a brand new global secret, 32+ bytes long"))
	status, page, _ := get(t, old)
	require.Equal(t, http.StatusNotFound, status, "a link tagged under the old secret")
	require.Contains(t, page, "not valid")

	_, fresh := f.notify()
	status, _ = post(t, fresh, url.Values{"token": {tokenOf(fresh)}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status)
	require.Len(t, f.decider.all(), 1)
}
