package smschannel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/storage/memory"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type decision struct {
	Ref, Subject string
	Approved     bool
	Scopes       []string
}

// recorder stands in for ciba.Decider (whose own tests cover it; the example's integration tests run
// the channel against the real one) and records decisions. A request is pending until decided once;
// closed lists requests decided elsewhere.
type recorder struct {
	mu        sync.Mutex
	decisions []decision
	closed    map[string]bool
}

func (r *recorder) Lookup(_ context.Context, ref, subject string) (*ciba.Request, error) {
	return &ciba.Request{Ref: ref, Subject: subject}, nil
}

func (r *recorder) decide(d decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed[d.Ref] {
		return ciba.ErrRequestNotFound
	}
	for _, old := range r.decisions {
		if old.Ref == d.Ref {
			return ciba.ErrRequestNotFound
		}
	}
	r.decisions = append(r.decisions, d)
	return nil
}

func (r *recorder) Approve(_ context.Context, ref string, d pending.Decision) error {
	if d.Session.(*openid.DefaultSession).Claims.Subject != d.Subject {
		return errors.New("session subject mismatch")
	}
	return r.decide(decision{Ref: ref, Subject: d.Subject, Approved: true, Scopes: d.GrantedScopes})
}

func (r *recorder) Deny(_ context.Context, ref, subject string) error {
	return r.decide(decision{Ref: ref, Subject: subject})
}

func (r *recorder) all() []decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]decision(nil), r.decisions...)
}

const (
	dave    = "+15550100004"
	hookKey = "provider-auth-token-0123456789ab"
)

type fixture struct {
	t       *testing.T
	ch      *smschannel.Channel
	outbox  *notify.Outbox
	decider *recorder
	clock   *clock
	url     string
	signer  smschannel.Signer
}

func newFixture(t *testing.T, mod func(*smschannel.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, outbox: notify.NewOutbox(50), decider: &recorder{closed: map[string]bool{}},
		clock: &clock{t: time.Unix(1_800_000_000, 0).UTC()}, signer: smschannel.Signer{Key: []byte(hookKey)}}
	srv := httptest.NewUnstartedServer(nil)
	f.url = "http://" + srv.Listener.Addr().String() + "/sms/inbound"
	store := memory.New()
	cfg := smschannel.Config{
		Sender: f.outbox, Store: store, Attempts: store,
		Secrets: &fosite.Config{GlobalSecret: []byte("0123456789abcdef0123456789abcdef")},
		Decider: f.decider,
		NewSession: func(_ context.Context, subject string, authTime time.Time) fosite.Session {
			return &openid.DefaultSession{Subject: subject, Claims: &jwt.IDTokenClaims{Subject: subject, AuthTime: authTime}}
		},
		Signer: f.signer, WebhookURL: f.url, Now: f.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	ch, err := smschannel.New(cfg)
	require.NoError(t, err)
	f.ch = ch
	mux := http.NewServeMux()
	mux.Handle("/sms/inbound", ch.Handler())
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func (f *fixture) request(ref string) ciba.Request {
	return ciba.Request{Ref: ref, Subject: "dave", ClientID: "shop", ClientName: "Corner Shop", Mode: ciba.ModePoll,
		BindingMessage: "W4SCT", Scopes: []string{"openid", "profile"}, ExpiresAt: f.clock.Now().Add(10 * time.Minute)}
}

var codeRE = regexp.MustCompile(`Reply YES (\d+)`)

// prompt notifies dave about ref and returns the code of the message he got.
func (f *fixture) prompt(ref string) string {
	f.t.Helper()
	require.NoError(f.t, f.ch.Notify(context.Background(), ciba.Notification{Request: f.request(ref),
		Devices: []ciba.Device{{ID: "dave@example.com", Kind: "email"}, {ID: "+1 555 010 0004", Kind: "sms"}}}))
	m := f.outbox.Messages()[0]
	require.Equal(f.t, dave, m.To)
	require.Equal(f.t, notify.SMS, m.Channel)
	c := codeRE.FindStringSubmatch(m.Text)
	require.NotNil(f.t, c, "no code in %q", m.Text)
	return c[1]
}

// reply posts an incoming message as the provider does, signed, and returns the status and body.
func (f *fixture) reply(from, body string) (int, string) {
	f.t.Helper()
	form := url.Values{"From": {from}, "To": {"+15550009999"}, "Body": {body}, "MessageSid": {"SM" + fmt.Sprint(time.Now().UnixNano())}}
	return f.post(form, f.signer.Sign(f.url, form))
}

func (f *fixture) post(form url.Values, sig string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url, strings.NewReader(form.Encode()))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set(smschannel.DefaultSignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp.StatusCode, string(b)
}

// ignoredAnswer is what every signed request gets: the webhook tells the provider nothing.
const ignoredAnswer = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

func (f *fixture) requireAnswer(status int, body string) {
	f.t.Helper()
	require.Equal(f.t, http.StatusOK, status)
	require.Equal(f.t, ignoredAnswer, body)
}

func TestPromptSaysWhoAsksAndHowToAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	require.Len(t, code, smschannel.DefaultCodeDigits)
	m := f.outbox.Messages()[0]
	require.Equal(t, "Corner Shop asks to sign you in (\"W4SCT\"); it could confirm who you are, see your name. Reply YES "+code+
		" to allow, or NO "+code+" to deny. Expires in 10 min. Not you? Reply NO "+code+".\n", m.Text)
	require.Len(t, f.outbox.Messages(), 1, "the e-mail device is not this channel's")

	err := f.ch.Notify(context.Background(), ciba.Notification{Request: f.request("ref-2"), Devices: []ciba.Device{{ID: "d@example.com", Kind: "email"}}})
	require.ErrorIs(t, err, notify.ErrPermanent, "no phone among the devices")
}

func TestReplyDecidesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	f.requireAnswer(f.reply(dave, "yes "+code))
	require.Equal(t, []decision{{Ref: "ref-1", Subject: "dave", Approved: true, Scopes: []string{"openid", "profile"}}}, f.decider.all())
	require.Equal(t, "Done: Corner Shop is signed in.\n", f.outbox.Messages()[0].Text)
	require.Equal(t, dave, f.outbox.Messages()[0].To)

	// The provider delivers the same reply again, then the person changes their mind: nothing changes.
	n := len(f.outbox.Messages())
	f.requireAnswer(f.reply(dave, "yes "+code))
	f.requireAnswer(f.reply(dave, "NO "+code))
	require.Len(t, f.decider.all(), 1)
	require.Len(t, f.outbox.Messages(), n, "a spent code got an answer")
}

func TestNoDenies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	f.requireAnswer(f.reply("+1 (555) 010-0004", "No "+code))
	require.Equal(t, []decision{{Ref: "ref-1", Subject: "dave"}}, f.decider.all())
	require.Contains(t, f.outbox.Messages()[0].Text, "was denied")
}

func TestTwoPromptsToOnePhoneAreNotConfused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	first := f.prompt("ref-1")
	second := f.prompt("ref-2")
	require.NotEqual(t, first, second, "a live code of the phone was given to another request")
	f.requireAnswer(f.reply(dave, "NO "+second))
	f.requireAnswer(f.reply(dave, "YES "+first))
	got := f.decider.all()
	require.Len(t, got, 2)
	require.Equal(t, decision{Ref: "ref-2", Subject: "dave"}, got[0])
	require.Equal(t, decision{Ref: "ref-1", Subject: "dave", Approved: true, Scopes: []string{"openid", "profile"}}, got[1])
}

func TestEverythingElseIsIgnoredAlike(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	other := "0000"
	if code == other {
		other = "1111"
	}
	for _, tc := range []struct{ name, from, body string }{
		{"not a reply", dave, "thanks!"},
		{"a code never sent", dave, "YES " + other},
		{"the right code from another phone", "+15550100005", "YES " + code},
		{"no sender", "", "YES " + code},
		{"a sender that is no number", "dave", "YES " + code},
		{"carrier keyword", dave, "STOP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.requireAnswer(f.reply(tc.from, tc.body))
		})
	}
	require.Empty(t, f.decider.all())

	// The code still works for dave.
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Len(t, f.decider.all(), 1)
}

func TestUnsignedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	form := url.Values{"From": {dave}, "Body": {"YES " + code}}
	for _, tc := range []struct{ name, sig string }{
		{"no signature", ""},
		{"signed with another key", smschannel.Signer{Key: []byte("someone-else-0123456789")}.Sign(f.url, form)},
		{"signed for another URL", f.signer.Sign(f.url+"x", form)},
		{"signed for another body", f.signer.Sign(f.url, url.Values{"From": {dave}, "Body": {"NO " + code}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.post(form, tc.sig)
			require.Equal(t, http.StatusForbidden, status)
			require.NotContains(t, body, "Response")
		})
	}
	resp, err := http.Get(f.url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Empty(t, f.decider.all())
}

func TestWrongCodesAreLimitedPerPhone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	wrong := 0
	for i := 0; wrong < smschannel.DefaultLimits.PerAccount; i++ {
		guess := fmt.Sprintf("%04d", i)
		if guess == code {
			continue
		}
		f.requireAnswer(f.reply(dave, "YES "+guess))
		wrong++
	}
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Empty(t, f.decider.all(), "past the limit even the right code decides nothing")

	f.clock.Add(smschannel.DefaultLimits.Window)
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Empty(t, f.decider.all(), "the code expired with the request meanwhile")
	code = f.prompt("ref-2")
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Len(t, f.decider.all(), 1, "after the window the phone's replies count again")
}

func TestExpiredCodeDecidesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *smschannel.Config) { c.MaxLifetime = 2 * time.Minute })
	code := f.prompt("ref-1")
	require.Contains(t, f.outbox.Messages()[0].Text, "Expires in 2 min.")
	f.clock.Add(2 * time.Minute)
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Empty(t, f.decider.all())
}

func TestRequestAnsweredElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	f.decider.mu.Lock()
	f.decider.closed["ref-1"] = true
	f.decider.mu.Unlock()
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Contains(t, f.outbox.Messages()[0].Text, "already answered or has expired")
	n := len(f.outbox.Messages())
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Len(t, f.outbox.Messages(), n, "the spent code got a second answer")
}

// lastFour is a knowledge check: the last four digits of the account number.
type lastFour struct{}

func (lastFour) Fields(_ context.Context, subject string) []linkchannel.Field {
	if subject != "dave" {
		return nil
	}
	return []linkchannel.Field{{Name: "account", Label: "the last 4 digits of your account number", Type: "text"}}
}

func (lastFour) Verify(_ context.Context, _ string, form url.Values) error {
	if form.Get("account") != "1004" {
		return linkchannel.ErrWrongAnswer
	}
	return nil
}

func TestKnowledgeCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *smschannel.Config) { c.Knowledge = lastFour{} })
	code := f.prompt("ref-1")
	require.Contains(t, f.outbox.Messages()[0].Text, "Reply YES "+code+" followed by the last 4 digits of your account number to allow, or NO "+code+" to deny.")

	f.requireAnswer(f.reply(dave, "YES "+code))
	f.requireAnswer(f.reply(dave, "YES "+code+" 9999"))
	require.Empty(t, f.decider.all(), "an approval without the right answer")
	require.Equal(t, "That did not match our records, so Corner Shop was not signed in. To try again, reply YES "+code+
		" followed by the last 4 digits of your account number.\n", f.outbox.Messages()[0].Text)

	f.requireAnswer(f.reply(dave, "YES "+code+" 1004"))
	require.Len(t, f.decider.all(), 1)
	require.True(t, f.decider.all()[0].Approved)
}

func TestKnowledgeCheckLimitAndDenyWithoutAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *smschannel.Config) { c.Knowledge = lastFour{} })
	code := f.prompt("ref-1")
	for range smschannel.DefaultLimits.PerAccount {
		f.requireAnswer(f.reply(dave, "YES "+code+" 0000"))
	}
	f.requireAnswer(f.reply(dave, "YES "+code+" 1004"))
	require.Empty(t, f.decider.all(), "past the limit even the right answer approves nothing")
	f.requireAnswer(f.reply(dave, "NO "+code))
	require.Equal(t, []decision{{Ref: "ref-1", Subject: "dave"}}, f.decider.all(), "denying needs no answer")
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	store := memory.New()
	good := smschannel.Config{
		Sender: notify.NewOutbox(1), Store: store, Attempts: store,
		Secrets: &fosite.Config{GlobalSecret: []byte("0123456789abcdef0123456789abcdef")}, Decider: &recorder{},
		NewSession: func(context.Context, string, time.Time) fosite.Session { return openid.NewDefaultSession() },
		Signer:     smschannel.Signer{Key: []byte(hookKey)}, WebhookURL: "https://id.example.com/sms",
	}
	_, err := smschannel.New(good)
	require.NoError(t, err)
	for name, mod := range map[string]func(*smschannel.Config){
		"no sender":          func(c *smschannel.Config) { c.Sender = nil },
		"no store":           func(c *smschannel.Config) { c.Store = nil },
		"no attempts":        func(c *smschannel.Config) { c.Attempts = nil },
		"no secrets":         func(c *smschannel.Config) { c.Secrets = nil },
		"short secret":       func(c *smschannel.Config) { c.Secrets = &fosite.Config{GlobalSecret: []byte("short")} },
		"no decider":         func(c *smschannel.Config) { c.Decider = nil },
		"no session":         func(c *smschannel.Config) { c.NewSession = nil },
		"short webhook key":  func(c *smschannel.Config) { c.Signer.Key = []byte("short") },
		"relative URL":       func(c *smschannel.Config) { c.WebhookURL = "/sms" },
		"not http":           func(c *smschannel.Config) { c.WebhookURL = "ftp://id.example.com/sms" },
		"code too long":      func(c *smschannel.Config) { c.CodeDigits = smschannel.MaxCodeDigits + 1 },
		"negative lifetime":  func(c *smschannel.Config) { c.MaxLifetime = -time.Second },
		"negative code size": func(c *smschannel.Config) { c.CodeDigits = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mod(&c)
			_, err := smschannel.New(c)
			require.Error(t, err)
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+15550100004": "+15550100004", "+1 (555) 010-0004": "+15550100004", "0041 44 668 18 00": "+41446681800",
		"5550100004": "", "+0123456789": "", "+1555abc": "", "+123": "", "": "", strings.Repeat("1", 80): "",
	} {
		got, ok := smschannel.NormalizePhone(in)
		require.Equal(t, want != "", ok, in)
		require.Equal(t, want, got, in)
	}
}

// TestRacingRepliesDecideOnce: 64 deliveries of the same signed reply at once (a provider retrying, or
// an attacker replaying a captured one) decide the request once; every delivery gets the same answer.
func TestRacingRepliesDecideOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	form := url.Values{"From": {dave}, "To": {"+15550009999"}, "Body": {"YES " + code}, "MessageSid": {"SM-race"}}
	sig := f.signer.Sign(f.url, form)
	const n = 64
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, f.url, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(smschannel.DefaultSignatureHeader, sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		require.Equal(t, http.StatusOK, s, "delivery %d", i)
	}
	require.Len(t, f.decider.all(), 1, "one decision whatever the race")
}

// TestOversizedOrBinaryWebhookBodies: a body over the webhook's limit is refused before its signature
// is checked, and a signed reply with a NUL byte or invalid UTF-8 is ignored like any other text; no
// request is decided.
func TestOversizedOrBinaryWebhookBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.prompt("ref-1")
	big := url.Values{"From": {dave}, "Body": {"YES " + code + " " + strings.Repeat("a", 10<<20)}}
	status, _ := f.post(big, f.signer.Sign(f.url, big))
	require.Equal(t, http.StatusForbidden, status)
	f.requireAnswer(f.reply(dave, "YES "+code+"\x00"))
	f.requireAnswer(f.reply(dave, "YES \xff"+code))
	f.requireAnswer(f.reply(dave+"\x00", "YES "+code))
	require.Empty(t, f.decider.all())
	f.requireAnswer(f.reply(dave, "YES "+code))
	require.Len(t, f.decider.all(), 1, "the code still works for dave")
}
