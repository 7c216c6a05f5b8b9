package smschannel

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/notify"
)

// emptyReply is the answer to every signed webhook request, whatever it held: an empty TwiML
// document, which tells Twilio to send nothing back (other providers only look at the status).
const emptyReply = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// Handler serves the webhook the SMS provider posts incoming text messages to (mount it at the path of
// Config.WebhookURL). It
//
//   - refuses, with 403 and nothing else, any request whose signature (Config.Signer) does not match
//     the form and Config.WebhookURL, and with 405 anything but POST;
//   - answers every signed request 200 with the same empty body, whatever it held: a reply that
//     decides, one that is no reply ("thanks!"), a wrong or expired code, a number that was never
//     prompted. Nothing in the answer tells them apart. Only a failure of the server itself (its store)
//     is a 500;
//   - reads the sender and the text, and acts only on a reply (ParseReply) whose sender and code match
//     a live prompt: that one request is approved or denied, once (the code is spent in one
//     conditional write before the decision);
//   - counts wrong codes per sender, and wrong knowledge answers per user (Config.Limits); past a
//     limit it ignores that sender's replies, or that user's answers, until the window passes;
//   - after a decision, or wrong answers, texts the prompted phone what happened. The message goes to
//     the number the prompt went to, never to anyone else.
func (c *Channel) Handler() http.Handler { return http.HandlerFunc(c.serveWebhook) }

func (c *Channel) serveWebhook(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, maxWebhookBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(rw, "forbidden", http.StatusForbidden)
		return
	}
	signed := c.cfg.WebhookURL
	if r.URL.RawQuery != "" && !hasQuery(signed) {
		signed += "?" + r.URL.RawQuery
	}
	if !c.cfg.Signer.Verify(signed, r.PostForm, r.Header.Get(c.cfg.Signer.header())) {
		c.cfg.Logger.WarnContext(r.Context(), "ciba sms webhook: signature does not match; request refused")
		http.Error(rw, "forbidden", http.StatusForbidden)
		return
	}
	if c.take(r.Context(), r.PostForm.Get(c.cfg.FromField), r.PostForm.Get(c.cfg.BodyField)) == "failed" {
		// The store or the randomness failed: 500, so that the provider reports (or retries) it.
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/xml; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	_, _ = rw.Write([]byte(emptyReply))
}

func hasQuery(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.RawQuery != ""
}

// take acts on one incoming message from sender with text body, or ignores it. It reports what it did
// (for the log and tests), never to the sender.
func (c *Channel) take(ctx context.Context, sender, body string) string {
	log := c.cfg.Logger
	phone, ok := NormalizePhone(sender)
	if !ok {
		log.InfoContext(ctx, "ciba sms webhook: ignored a message without a usable sender")
		return "ignored"
	}
	reply, ok := ParseReply(body, c.digits)
	if !ok {
		log.InfoContext(ctx, "ciba sms webhook: ignored a message that is no reply")
		return "ignored"
	}
	k, err := c.keys.Get(ctx)
	if err != nil {
		log.ErrorContext(ctx, "ciba sms webhook failed", slog.String("error", err.Error()))
		return "failed"
	}
	now := clock.Now(c.cfg.Now)
	byPhone := pending.Caller{Account: k.phone(phone)}
	if err := c.codeLimit.Allow(ctx, byPhone, now); err != nil {
		log.InfoContext(ctx, "ciba sms webhook: ignored a reply from a sender over the wrong-code limit")
		return "limited"
	}
	sig := k.binding(phone, reply.Code)
	b, err := c.cfg.Store.GetSMSBinding(ctx, sig)
	if errors.Is(err, ErrNotFound) {
		if err := c.codeLimit.Fail(ctx, byPhone, now); err != nil {
			log.ErrorContext(ctx, "ciba sms webhook failed", slog.String("error", err.Error()))
		}
		log.InfoContext(ctx, "ciba sms webhook: ignored a reply with a code this sender was not sent")
		return "unknown"
	} else if err != nil {
		log.ErrorContext(ctx, "ciba sms webhook failed", slog.String("error", err.Error()))
		return "failed"
	}
	if !b.UsedAt.IsZero() || !now.Before(b.ExpiresAt) {
		log.InfoContext(ctx, "ciba sms webhook: ignored a reply with a spent or expired code", slog.String("client_id", b.ClientID))
		return "spent"
	}
	outcome := OutcomeDenied
	if reply.Approve {
		outcome = OutcomeApproved
		if ok, done := c.checkAnswers(ctx, b, reply, phone, now); !ok {
			return done
		}
	}
	// Spend the code first: of two deliveries of the same reply only one gets past here.
	if err := c.cfg.Store.UseSMSBinding(ctx, sig, now, outcome); err != nil {
		if !errors.Is(err, ErrUsed) {
			log.ErrorContext(ctx, "ciba sms webhook failed", slog.String("error", err.Error()))
			return "failed"
		}
		return "spent"
	}
	if reply.Approve {
		err = c.cfg.Decider.Approve(ctx, b.Ref, pending.Decision{
			Approved: true, Subject: b.Subject, Session: c.cfg.NewSession(ctx, b.Subject, now),
			GrantedScopes: append([]string{}, b.Scopes...),
		})
	} else {
		err = c.cfg.Decider.Deny(ctx, b.Ref, b.Subject)
	}
	switch {
	case errors.Is(err, ciba.ErrRequestNotFound) || (err != nil && fosite.ErrorToRFC6749Error(err).CodeField < 500):
		log.InfoContext(ctx, "ciba sms webhook: the request was no longer pending", slog.String("client_id", b.ClientID))
		c.confirm(ctx, phone, b, OutcomeData{ClientName: b.ClientName, Outcome: OutcomeClosed})
		return OutcomeClosed
	case err != nil:
		log.ErrorContext(ctx, "ciba sms webhook: recording the decision failed", slog.String("error", err.Error()))
		return "failed"
	}
	log.InfoContext(ctx, "ciba sms decision", slog.String("client_id", b.ClientID), slog.String("outcome", outcome))
	c.confirm(ctx, phone, b, OutcomeData{ClientName: b.ClientName, Outcome: outcome})
	return outcome
}

// checkAnswers checks an approving reply's knowledge answers, when the user has a check. ok false means
// the reply must not decide; done says why.
func (c *Channel) checkAnswers(ctx context.Context, b *Binding, reply Reply, phone string, now time.Time) (ok bool, done string) {
	if c.cfg.Knowledge == nil {
		return true, ""
	}
	fields := c.cfg.Knowledge.Fields(ctx, b.Subject)
	if len(fields) == 0 {
		return true, ""
	}
	who := pending.Caller{Account: b.Subject}
	if err := c.knowLimit.Allow(ctx, who, now); err != nil {
		c.cfg.Logger.InfoContext(ctx, "ciba sms webhook: ignored an approval over the wrong-answer limit", slog.String("client_id", b.ClientID))
		return false, "limited"
	}
	form := url.Values{}
	for i, f := range fields {
		if i < len(reply.Answers) {
			form.Set(f.Name, reply.Answers[i])
		}
	}
	if len(reply.Answers) > len(fields) {
		// More words than questions: join the rest into the last answer ("12 Main St").
		last := fields[len(fields)-1].Name
		ans := form.Get(last)
		for _, w := range reply.Answers[len(fields):] {
			ans += " " + w
		}
		form.Set(last, ans)
	}
	err := c.cfg.Knowledge.Verify(ctx, b.Subject, form)
	if err == nil {
		return true, ""
	}
	if !errors.Is(err, linkchannel.ErrWrongAnswer) {
		c.cfg.Logger.ErrorContext(ctx, "ciba sms webhook: the knowledge check failed", slog.String("error", err.Error()))
		return false, "failed"
	}
	if err := c.knowLimit.Fail(ctx, who, now); err != nil {
		c.cfg.Logger.ErrorContext(ctx, "ciba sms webhook failed", slog.String("error", err.Error()))
	}
	c.cfg.Logger.InfoContext(ctx, "ciba sms webhook: wrong knowledge answer", slog.String("client_id", b.ClientID))
	c.confirm(ctx, phone, b, OutcomeData{ClientName: b.ClientName, Outcome: OutcomeWrongAnswer, Code: reply.Code, Questions: c.questions(ctx, b.Subject)})
	return false, OutcomeWrongAnswer
}

// confirm texts phone what became of its reply. A failure is logged: the decision stands.
func (c *Channel) confirm(ctx context.Context, phone string, b *Binding, d OutcomeData) {
	m, err := c.cfg.Templates.Render(TemplateOutcome, b.Locale, d)
	if err == nil {
		m.To, m.Channel = phone, notify.SMS
		m.Meta = map[string]string{"kind": "ciba-sms-outcome", "client_id": b.ClientID}
		err = c.cfg.Sender.Send(ctx, m)
	}
	if err != nil {
		c.cfg.Logger.WarnContext(ctx, "ciba sms webhook: the confirmation was not sent", slog.String("error", err.Error()))
	}
}
