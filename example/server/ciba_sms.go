package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The example's SMS authentication device (seed 000: "click on a link in the email (or reply the
// text)"):
//
//   - dave's authentication device is his phone: each request reaches him as a text message with a
//     short code, and he answers "YES 4821" or "NO 4821" (package handler/ciba/smschannel);
//   - the SMS provider posts his reply to POST /ciba/sms/inbound, signed with the webhook key
//     (CIBAOptions.SMSWebhookKey; DEMO: derived from the global secret when not set);
//   - in dev mode the /dev/outbox page has a reply box under each text message, which posts to
//     /dev/outbox/reply; that handler signs the reply with the webhook key and hands it to the same
//     webhook, as the provider would.

// smsWebhookPath is where the SMS provider posts incoming messages; configure Issuer + smsWebhookPath
// at the provider.
const smsWebhookPath = "/ciba/sms/inbound"

// devSMSReplyPath is the dev outbox's reply box target (dev mode only).
const devSMSReplyPath = "/dev/outbox/reply"

// DemoSMSNumber is the number the demo's text messages come from and replies go to. DEMO.
const DemoSMSNumber = "+15550009999"

// DEMO: dave answers by text message; his phone is his only authentication device.
const demoDavePhone = "+15550100004"

func init() {
	demoUsers["dave"] = demoUser{Subject: "dave", Name: "Dave Lister", Email: "dave@example.com", Password: "dave-password"}
}

// SMSWebhookKey returns the key the SMS webhook checks signatures with: CIBAOptions.SMSWebhookKey, or
// DEMO a key derived from the global secret (a real server uses the provider's auth token).
func (s *Server) SMSWebhookKey() []byte {
	if k := s.opts.CIBA.SMSWebhookKey; len(k) > 0 {
		return k
	}
	m := hmac.New(sha256.New, s.opts.GlobalSecret)
	m.Write([]byte("DEMO sms webhook key"))
	return m.Sum(nil)
}

// setupSMS makes the SMS reply channel (after Compose: it decides through the CIBA grant's Decider).
func (s *Server) setupSMS() error {
	store, ok := s.store.(smschannel.Store)
	if !ok {
		store = &memory.CIBASMSStore{} // DEMO: codes of a store without them are kept beside it
	}
	ch, err := smschannel.New(smschannel.Config{
		Sender: s.sender, Store: store, Attempts: s.store, Secrets: s.fosite,
		Decider: s.cibaGrant.Decider,
		NewSession: func(_ context.Context, subject string, authTime time.Time) fosite.Session {
			return s.newSession(subject, authTime)
		},
		Signer:     smschannel.Signer{Key: s.SMSWebhookKey()},
		WebhookURL: s.opts.Issuer + smsWebhookPath,
		Knowledge:  s.knowledgeCheck(),
		Now:        s.opts.Now, Logger: s.log,
	})
	if err != nil {
		return err
	}
	s.ciba.sms = ch
	if s.opts.Dev && s.outbox != nil {
		s.outbox.ReplyURL = devSMSReplyPath // DEMO: reply to text messages from the outbox page
	}
	return nil
}

func (s *Server) smsRoutes(m *http.ServeMux) {
	m.Handle(smsWebhookPath, s.ciba.sms.Handler())
	if s.opts.Dev && s.outbox != nil {
		m.HandleFunc("POST "+devSMSReplyPath, s.devSMSReply)
	}
}

// devSMSReply takes a reply typed into the dev outbox and delivers it to the SMS webhook as the
// provider would: a signed form from the number the message went to. DEMO: dev mode only, and only
// from this server's own pages (the browser says so in Origin or Sec-Fetch-Site).
func (s *Server) devSMSReply(rw http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		http.Error(rw, "replies are accepted from the outbox page only", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(rw, "the reply is too long", http.StatusBadRequest)
		return
	}
	from, ok := smschannel.NormalizePhone(r.PostFormValue("from"))
	body := r.PostFormValue("body")
	if !ok || len(body) > smschannel.MaxReplyLength {
		http.Error(rw, "a reply needs the number it comes from and at most 320 characters", http.StatusBadRequest)
		return
	}
	sid := make([]byte, 16)
	_, _ = rand.Read(sid)
	form := url.Values{"From": {from}, "To": {DemoSMSNumber}, "Body": {body}, "MessageSid": {"SMdev" + hex.EncodeToString(sid)}}
	hook := s.opts.Issuer + smsWebhookPath
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, hook, strings.NewReader(form.Encode()))
	if err != nil {
		http.Error(rw, "the reply could not be delivered", http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(smschannel.DefaultSignatureHeader, smschannel.Signer{Key: s.SMSWebhookKey()}.Sign(hook, form))
	rec := &statusRecorder{header: http.Header{}}
	s.ciba.sms.Handler().ServeHTTP(rec, req)
	if rec.status != http.StatusOK {
		http.Error(rw, "the webhook refused the reply", http.StatusBadGateway)
		return
	}
	http.Redirect(rw, r, "/dev/outbox", http.StatusSeeOther)
}

// statusRecorder keeps the status of a response whose body nobody reads.
type statusRecorder struct {
	header http.Header
	status int
}

func (w *statusRecorder) Header() http.Header { return w.header }
func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *statusRecorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// sameOrigin reports whether the browser says the request comes from this server's own pages.
func (s *Server) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o := r.Header.Get("Origin")
	return o != "" && strings.EqualFold(o, originOf(s.opts.Issuer))
}

func originOf(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// notifyDevices reaches the user on their preferred device (the first of n.Devices, see
// ciba.Devices.Reachable), through the channel of its kind: e-mail through the link channel, text
// messages through the SMS reply channel; an in-app device needs no message (the request is listed on
// the /ciba page, which shows every pending request whatever the device). The request is decided once,
// wherever: a link or a reply used after a decision on another device changes nothing and says so.
func (s *Server) notifyDevices(ctx context.Context, n ciba.Notification) error {
	if len(n.Devices) == 0 {
		return notify.Permanent(errors.New("example: the user has no device"))
	}
	if s.ciba.link == nil || s.ciba.sms == nil {
		return errors.New("example: the CIBA channels are not set up")
	}
	n.Devices = n.Devices[:1]
	switch n.Devices[0].Kind {
	case deviceKindApp:
		return nil
	case smschannel.DeviceKind:
		return s.ciba.sms.Notify(ctx, n)
	default:
		return s.ciba.link.Notify(ctx, n)
	}
}
