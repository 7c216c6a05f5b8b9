package smschannel

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/secretkeys"
	"github.com/fosite-contrib/grants/notify"
)

//go:embed templates
var defaultFiles embed.FS

// DefaultTemplates returns the message templates the channel ships, in English ("en") and German
// ("de"): ciba/sms_reply (the prompt) and ciba/sms_reply_done (the confirmation). Put a layer of your
// own in front of them to change any file:
//
//	notify.NewTemplates("en", os.DirFS("sms"), smschannel.DefaultTemplates())
func DefaultTemplates() fs.FS {
	sub, err := fs.Sub(defaultFiles, "templates")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// The template names the channel renders.
const (
	TemplatePrompt  = "ciba/sms_reply"
	TemplateOutcome = "ciba/sms_reply_done"
)

// DeviceKind is the ciba.Device Kind DefaultRecipientOf takes as this channel's: the device's ID is
// then the phone number (E.164).
const DeviceKind = string(notify.SMS)

// Defaults and limits of Config.
const (
	// DefaultCodeDigits is the length of a reply code when Config.CodeDigits is 0.
	DefaultCodeDigits = 4
	// MaxCodeDigits is the longest reply code; more is not short.
	MaxCodeDigits = 8
	// maxCodeDraws bounds the draws of a code that is free for the phone.
	maxCodeDraws    = 5
	maxWebhookBytes = 16 << 10
)

// DefaultLimits bound wrong replies (pending.Limits, counted per account key): 5 wrong codes per phone
// number and 5 wrong knowledge answers per user, per 15 minutes. The per-phone limit is what makes a
// short code safe: a forged sender (From) gets 5 guesses in 10^4 per window. Past a limit, replies from
// that phone (or answers for that user) are ignored, right or wrong, until the window passes.
var DefaultLimits = pending.Limits{PerAccount: 5, Window: 15 * time.Minute}

// Decider records the person's answer to a pending CIBA request (CIBA Core §8). *ciba.Decider
// implements it; every method returns an error wrapping ciba.ErrRequestNotFound when the request is no
// longer pending for subject.
type Decider interface {
	Lookup(ctx context.Context, ref, subject string) (*ciba.Request, error)
	Approve(ctx context.Context, ref string, d pending.Decision) error
	Deny(ctx context.Context, ref, subject string) error
}

var (
	_ Decider                   = (*ciba.Decider)(nil)
	_ ciba.AuthenticationDevice = (*Channel)(nil)
)

// Recipient is the phone to prompt, and in which language.
type Recipient struct {
	// To is the phone number, E.164 ("+14155550100").
	To string
	// Locale is the person's language, such as "de-CH"; empty means the templates' fallback.
	Locale string
}

// Config configures a Channel. Sender, Store, Attempts, Secrets, Decider, NewSession, Signer.Key and
// WebhookURL are required.
type Config struct {
	// Sender delivers the text messages (notify.HTTPSMS, or the development outbox).
	Sender notify.Sender
	// Store keeps the codes (single use, expiry).
	Store Store
	// Attempts counts wrong replies (Limits); a pending.AttemptStorage such as the store.
	Attempts pending.AttemptStorage
	// Limits bound wrong codes per phone and wrong knowledge answers per user (PerAccount and Window
	// are used); the zero value means DefaultLimits.
	Limits pending.Limits
	// Secrets provides the global secret the code signatures are derived from (a *fosite.Config will
	// do).
	Secrets fosite.GlobalSecretProvider
	// Decider records the decisions (the CIBA core's decision API).
	Decider Decider
	// NewSession returns the session tokens are issued with when subject approves at authTime.
	NewSession func(ctx context.Context, subject string, authTime time.Time) fosite.Session

	// Signer checks the signature of the provider's webhook requests.
	Signer Signer
	// WebhookURL is the absolute URL the provider posts incoming messages to, exactly as configured
	// there: it is part of what the provider signs.
	WebhookURL string
	// FromField and BodyField name the webhook form's sender and text fields; empty means "From" and
	// "Body" (Twilio's names).
	FromField, BodyField string

	// RecipientOf maps one of the user's devices to a Recipient, ok = false when the device is not this
	// channel's; nil means DefaultRecipientOf.
	RecipientOf func(ctx context.Context, subject string, d ciba.Device) (r Recipient, ok bool, err error)
	// Templates renders the messages; nil means notify.NewTemplates("en", DefaultTemplates()).
	Templates *notify.Templates
	// DescribeScope turns a scope into plain language for locale; nil, or an empty answer, uses the
	// built-in English descriptions of the OpenID scopes, then the scope name itself.
	DescribeScope func(locale, scope string) string
	// CodeDigits is the length of the reply codes; 0 means DefaultCodeDigits, at most MaxCodeDigits.
	CodeDigits int
	// MaxLifetime caps a code's lifetime; 0 means it lives as long as the request.
	MaxLifetime time.Duration

	// Knowledge, when set, asks for extra knowledge factors in an approving reply: the prompt asks for
	// each field's Prompt (or Label), and the words after the code are the answers, in the fields'
	// order, passed to Knowledge.Verify under the fields' names. The link channel's checks work here
	// unchanged.
	Knowledge linkchannel.KnowledgeCheck

	// Now is the clock; nil means time.Now. Rand is the randomness; nil means crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Logger receives one line per prompt sent, per reply acted on and per reply ignored (never a
	// phone number, a code or a message body); nil discards.
	Logger *slog.Logger
}

// Channel prompts people by text message to answer a CIBA request by replying (YES 4821 / NO 4821),
// and takes the replies the SMS provider posts to its webhook (Handler). Make one with New; it is safe
// for concurrent use.
type Channel struct {
	cfg                  Config
	digits               int
	codeLimit, knowLimit *pending.Limiter
	keys                 secretkeys.Cache[*keys]
}

var webhookURLShape = regexp.MustCompile(`^https?://`)

// New checks cfg and returns a Channel.
func New(cfg Config) (*Channel, error) {
	switch {
	case cfg.Sender == nil:
		return nil, errors.New("smschannel: Config.Sender is required")
	case cfg.Store == nil:
		return nil, errors.New("smschannel: Config.Store is required")
	case cfg.Attempts == nil:
		return nil, errors.New("smschannel: Config.Attempts is required (wrong replies must be limited)")
	case cfg.Secrets == nil:
		return nil, errors.New("smschannel: Config.Secrets is required")
	case cfg.Decider == nil:
		return nil, errors.New("smschannel: Config.Decider is required")
	case cfg.NewSession == nil:
		return nil, errors.New("smschannel: Config.NewSession is required")
	case cfg.Signer.check() != nil:
		return nil, cfg.Signer.check()
	case cfg.CodeDigits < 0 || cfg.CodeDigits > MaxCodeDigits:
		return nil, fmt.Errorf("smschannel: Config.CodeDigits must be 0 (the default, %d) to %d", DefaultCodeDigits, MaxCodeDigits)
	case cfg.MaxLifetime < 0:
		return nil, errors.New("smschannel: Config.MaxLifetime is negative")
	}
	if u, err := url.Parse(cfg.WebhookURL); err != nil || !u.IsAbs() || u.Host == "" || !webhookURLShape.MatchString(cfg.WebhookURL) || u.Fragment != "" {
		return nil, fmt.Errorf("smschannel: Config.WebhookURL %q must be an absolute http(s) URL without fragment", cfg.WebhookURL)
	}
	if cfg.Templates == nil {
		cfg.Templates = notify.NewTemplates("en", DefaultTemplates())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FromField == "" {
		cfg.FromField = "From"
	}
	if cfg.BodyField == "" {
		cfg.BodyField = "Body"
	}
	limits := pending.Limits{PerAccount: cfg.Limits.PerAccount, Window: cfg.Limits.Window}.Or(DefaultLimits)
	c := &Channel{
		cfg: cfg, digits: cfg.CodeDigits, keys: secretkeys.Cache[*keys]{Secrets: cfg.Secrets, Derive: keysFor},
		codeLimit: &pending.Limiter{Storage: cfg.Attempts, Scope: "ciba-sms-code", Limits: limits},
		knowLimit: &pending.Limiter{Storage: cfg.Attempts, Scope: "ciba-sms-knowledge", Limits: limits},
	}
	if c.digits == 0 {
		c.digits = DefaultCodeDigits
	}
	if _, err := c.keys.Get(context.Background()); err != nil {
		return nil, err
	}
	return c, nil
}

// PromptData is what the prompt template gets.
type PromptData struct {
	// ClientName is the client that asks.
	ClientName string
	// Scopes are the requested scopes in plain language, in the order requested.
	Scopes []string
	// BindingMessage is the binding message, possibly empty.
	BindingMessage string
	// Code is the reply code.
	Code string
	// Questions are what the approving reply must answer, in order: each knowledge-check field's Prompt
	// (or Label).
	Questions []string
	// ExpiresAt is when the code stops working; ExpiresInMinutes the same as minutes from now, rounded
	// up.
	ExpiresAt        time.Time
	ExpiresInMinutes int
}

// OutcomeData is what the confirmation template gets.
type OutcomeData struct {
	// ClientName is the client that asked.
	ClientName string
	// Outcome is OutcomeApproved, OutcomeDenied, or "wrong_answer" (the approval's answers did not
	// match; the code still works) or "closed" (the request was answered elsewhere or ended).
	Outcome string
	// Code is the reply code (set for "wrong_answer", to reply again with).
	Code string
	// Questions are the knowledge-check labels (for "wrong_answer").
	Questions []string
}

// The outcomes of OutcomeData besides OutcomeApproved and OutcomeDenied.
const (
	OutcomeWrongAnswer = "wrong_answer"
	OutcomeClosed      = "closed"
)

// Notify implements ciba.AuthenticationDevice (CIBA Core §8): it prompts each of the user's devices
// that RecipientOf maps to a phone, each with a code of its own. It fails when none of the devices is a
// phone, or when a message cannot be sent: the client then gets server_error at once, rather than
// waiting for a person who was never reached.
func (c *Channel) Notify(ctx context.Context, n ciba.Notification) error {
	sent := 0
	for _, d := range n.Devices {
		rcpt, ok, err := c.recipientOf(ctx, n.Subject, d)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := c.Send(ctx, rcpt, n.Request); err != nil {
			return err
		}
		sent++
	}
	if sent == 0 {
		return notify.Permanent(fmt.Errorf("smschannel: none of the %d devices of the user is a phone", len(n.Devices)))
	}
	return nil
}

func (c *Channel) recipientOf(ctx context.Context, subject string, d ciba.Device) (Recipient, bool, error) {
	if c.cfg.RecipientOf != nil {
		return c.cfg.RecipientOf(ctx, subject, d)
	}
	return DefaultRecipientOf(ctx, subject, d)
}

// DefaultRecipientOf maps a device of Kind DeviceKind ("sms") to a prompt to its ID, a phone number;
// other kinds are not this channel's.
func DefaultRecipientOf(_ context.Context, _ string, d ciba.Device) (Recipient, bool, error) {
	if d.Kind != DeviceKind {
		return Recipient{}, false, nil
	}
	return Recipient{To: d.ID}, true, nil
}

// Send prompts one phone about one request: it draws a code that no live prompt to that phone uses,
// stores it, and sends the message. The code expires with the request, or after MaxLifetime when that
// is sooner. When sending fails the stored code is useless (nobody has it), and the error keeps
// notify's classification (notify.Retryable).
func (c *Channel) Send(ctx context.Context, rcpt Recipient, req ciba.Request) error {
	if req.Ref == "" || req.Subject == "" {
		return notify.Permanent(errors.New("smschannel: the request has no reference or no subject"))
	}
	phone, ok := NormalizePhone(rcpt.To)
	if !ok {
		return notify.Permanent(errors.New("smschannel: the device is not an E.164 phone number"))
	}
	now := clock.Now(c.cfg.Now)
	exp := req.ExpiresAt
	if c.cfg.MaxLifetime > 0 && (exp.IsZero() || now.Add(c.cfg.MaxLifetime).Before(exp)) {
		exp = now.Add(c.cfg.MaxLifetime)
	}
	if !now.Before(exp) {
		return notify.Permanent(errors.New("smschannel: the request has expired"))
	}
	k, err := c.keys.Get(ctx)
	if err != nil {
		return err
	}
	clientName := req.ClientName
	if clientName == "" {
		clientName = req.ClientID
	}
	b := &Binding{
		Ref: req.Ref, Subject: req.Subject, ClientID: req.ClientID, ClientName: clientName,
		Scopes: append([]string(nil), req.Scopes...), Locale: rcpt.Locale, CreatedAt: now, ExpiresAt: exp,
	}
	var code string
	for i := 0; ; i++ {
		if code, err = c.newCode(); err != nil {
			return err
		}
		b.Signature = k.binding(phone, code)
		err = c.cfg.Store.CreateSMSBinding(ctx, b, now)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrCodeTaken) || i+1 == maxCodeDraws {
			return fmt.Errorf("smschannel: storing the code: %w", err)
		}
	}
	data := PromptData{
		ClientName: clientName, Scopes: c.describe(rcpt.Locale, req.Scopes), BindingMessage: req.BindingMessage,
		Code: code, Questions: c.questions(ctx, req.Subject), ExpiresAt: exp,
		ExpiresInMinutes: int((exp.Sub(now) + time.Minute - 1) / time.Minute),
	}
	m, err := c.cfg.Templates.Render(TemplatePrompt, rcpt.Locale, data)
	if err != nil {
		return notify.Permanent(err)
	}
	m.To, m.Channel = phone, notify.SMS
	m.Meta = map[string]string{"kind": "ciba-sms-reply", "client_id": req.ClientID}
	if err := c.cfg.Sender.Send(ctx, m); err != nil {
		return err
	}
	c.cfg.Logger.InfoContext(ctx, "ciba sms prompt sent", slog.String("client_id", req.ClientID), slog.Time("expires_at", exp))
	return nil
}

// questions are the knowledge-check labels for subject.
func (c *Channel) questions(ctx context.Context, subject string) []string {
	if c.cfg.Knowledge == nil {
		return nil
	}
	var qs []string
	for _, f := range c.cfg.Knowledge.Fields(ctx, subject) {
		qs = append(qs, cmp.Or(f.Prompt, f.Label))
	}
	return qs
}

// newCode draws a code of c.digits decimal digits, uniformly (no modulo bias).
func (c *Channel) newCode() (string, error) {
	r := c.cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	space := uint32(1)
	for range c.digits {
		space *= 10
	}
	limit := (1 << 32) / uint64(space) * uint64(space) // the largest multiple of space that fits
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("smschannel: reading randomness: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); uint64(v) < limit {
			return fmt.Sprintf("%0*d", c.digits, v%space), nil
		}
	}
}

// describe turns scopes into plain language.
func (c *Channel) describe(locale string, scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		d := ""
		if c.cfg.DescribeScope != nil {
			d = c.cfg.DescribeScope(locale, s)
		}
		if d == "" {
			lang, _, _ := strings.Cut(strings.ReplaceAll(locale, "_", "-"), "-")
			if strings.EqualFold(lang, "de") {
				d = scopeDescriptionsDE[s]
			} else {
				d = scopeDescriptions[s]
			}
		}
		if d == "" {
			d = s
		}
		out = append(out, d)
	}
	return out
}

var scopeDescriptions = map[string]string{
	"openid":         "confirm who you are",
	"profile":        "see your name",
	"email":          "see your e-mail address",
	"phone":          "see your phone number",
	"address":        "see your postal address",
	"offline_access": "keep access while you are away",
}

var scopeDescriptionsDE = map[string]string{
	"openid":         "bestätigen, wer Sie sind",
	"profile":        "Ihren Namen sehen",
	"email":          "Ihre E-Mail-Adresse sehen",
	"phone":          "Ihre Telefonnummer sehen",
	"address":        "Ihre Postanschrift sehen",
	"offline_access": "Zugriff behalten, während Sie nicht da sind",
}

// NormalizePhone returns a phone number as the channel compares them: spaces, dashes, dots and
// parentheses dropped, a leading "00" read as "+"; ok only when the result is E.164 ("+" and 7 to 15
// digits, not starting with 0).
func NormalizePhone(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		case r == '+' || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	p := b.String()
	if strings.HasPrefix(p, "00") {
		p = "+" + p[2:]
	}
	if !e164.MatchString(p) {
		return "", false
	}
	return p, true
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// keys are derived from the global secret for this channel alone: the signatures of codes and the
// account keys of the per-phone limit.
type keys struct{ sig []byte }

func keysFor(secret []byte) (*keys, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("smschannel: the global secret must be at least 32 bytes, got %d", len(secret))
	}
	return &keys{sig: mac(secret, "fosite-contrib/grants ciba sms reply v1")}, nil
}

// binding is the storage signature of (phone, code).
func (k *keys) binding(phone, code string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.sig, "binding\x00"+phone+"\x00"+code))
}

// phone is the limiter's account key of a phone number: no number in the attempt counters.
func (k *keys) phone(phone string) string {
	return "phone|" + base64.RawURLEncoding.EncodeToString(mac(k.sig, "phone\x00"+phone)[:16])
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
