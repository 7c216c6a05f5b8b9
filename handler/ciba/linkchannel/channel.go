package linkchannel

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/secretkeys"
	"github.com/fosite-contrib/grants/notify"
)

//go:embed templates
var defaultFiles embed.FS

// DefaultTemplates returns the message templates the channel ships, in English ("en") and German
// ("de"): ciba/link (e-mail: subject, text and HTML) and ciba/link_sms (a short text). Put a layer of
// your own in front of them to change any file:
//
//	notify.NewTemplates("en", os.DirFS("mail"), linkchannel.DefaultTemplates())
func DefaultTemplates() fs.FS {
	sub, err := fs.Sub(defaultFiles, "templates")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// The template names the channel renders, for each notify.Channel.
const (
	TemplateEmail = "ciba/link"
	TemplateSMS   = "ciba/link_sms"
)

// Recipient is where and how to reach one person.
type Recipient struct {
	// To is the address: an e-mail address for notify.Email, an E.164 number for notify.SMS.
	To string
	// Channel is notify.Email or notify.SMS.
	Channel notify.Channel
	// Locale is the person's language, such as "de-CH"; empty means the templates' fallback.
	Locale string
}

// Decider records the person's answer to a pending CIBA request (CIBA Core §8) and, for ping and push
// clients, sees that the client is called back. *ciba.Decider implements it. Every method returns an
// error wrapping ciba.ErrRequestNotFound when the request is no longer pending for subject; the page
// uses Lookup to show a request answered elsewhere as closed.
type Decider interface {
	Lookup(ctx context.Context, ref, subject string) (*ciba.Request, error)
	Approve(ctx context.Context, ref string, d pending.Decision) error
	Deny(ctx context.Context, ref, subject string) error
}

var (
	_ Decider                   = (*ciba.Decider)(nil)
	_ ciba.AuthenticationDevice = (*Channel)(nil)
)

// Config configures a Channel. Sender, Store, Secrets, LinkURL and Decider are required.
type Config struct {
	// Sender delivers the messages.
	Sender notify.Sender
	// Store keeps the links (single use, expiry).
	Store Store
	// Secrets provides the global secret the link keys are derived from (a *fosite.Config will do).
	Secrets fosite.GlobalSecretProvider
	// LinkURL is the absolute URL where Handler is served, such as "https://id.example.com/ciba/link".
	// A link is LinkURL + "/" + token. Keep it short for text messages.
	LinkURL string
	// Decider records the decision taken on the page (the CIBA core's decision API).
	Decider Decider
	// NewSession returns the session tokens are issued with when subject approves at authTime.
	// Required to approve.
	NewSession func(ctx context.Context, subject string, authTime time.Time) fosite.Session

	// RecipientOf maps one of the user's devices to a Recipient, ok = false when the device is not
	// this channel's; nil means DefaultRecipientOf. Set it to add the user's locale, or when device IDs
	// are not addresses.
	RecipientOf func(ctx context.Context, subject string, d ciba.Device) (r Recipient, ok bool, err error)

	// Templates renders the messages; nil means notify.NewTemplates("en", DefaultTemplates()).
	Templates *notify.Templates
	// DescribeScope turns a scope into plain language for locale; nil, or an empty answer, uses the
	// built-in English descriptions of the OpenID scopes, then the scope name itself.
	DescribeScope func(locale, scope string) string
	// DescribeAccount names the account of subject on the link page ("Alice Liddell
	// (alice@example.com)"); nil, or an empty answer, shows the subject itself.
	DescribeAccount func(ctx context.Context, subject string) string
	// MaxLifetime caps a link's lifetime; 0 means the link lives as long as the request.
	MaxLifetime time.Duration

	// Knowledge, when set, asks for extra knowledge factors on the page before an approval.
	Knowledge KnowledgeCheck
	// Limiter bounds wrong answers to Knowledge, per subject. Required with Knowledge.
	Limiter *pending.Limiter
	// Page renders the link page; nil means the built-in page. It must define a template named
	// "page"; see PageData for what it gets.
	Page *template.Template

	// Now is the clock; nil means time.Now. Rand is the randomness; nil means crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Logger receives one line per link sent and per decision, never a token; nil discards.
	Logger *slog.Logger
}

// Channel sends CIBA requests to people as e-mail or text messages that carry a signed, expiring,
// single-use link to an approve/deny page, and serves that page (Handler). Make one with New; it is
// safe for concurrent use.
type Channel struct {
	cfg     Config
	linkURL string
	page    *template.Template
	keys    secretkeys.Cache[*keys]
}

// New checks cfg and returns a Channel.
func New(cfg Config) (*Channel, error) {
	switch {
	case cfg.Sender == nil:
		return nil, errors.New("linkchannel: Config.Sender is required")
	case cfg.Store == nil:
		return nil, errors.New("linkchannel: Config.Store is required")
	case cfg.Secrets == nil:
		return nil, errors.New("linkchannel: Config.Secrets is required")
	case cfg.Decider == nil:
		return nil, errors.New("linkchannel: Config.Decider is required")
	case cfg.NewSession == nil:
		return nil, errors.New("linkchannel: Config.NewSession is required")
	case cfg.Knowledge != nil && cfg.Limiter == nil:
		return nil, errors.New("linkchannel: Config.Limiter is required with Config.Knowledge (wrong answers must be limited)")
	case cfg.MaxLifetime < 0:
		return nil, errors.New("linkchannel: Config.MaxLifetime is negative")
	}
	u, err := url.Parse(cfg.LinkURL)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("linkchannel: Config.LinkURL %q must be an absolute URL without query or fragment", cfg.LinkURL)
	}
	if cfg.Templates == nil {
		cfg.Templates = notify.NewTemplates("en", DefaultTemplates())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Channel{cfg: cfg, linkURL: strings.TrimRight(cfg.LinkURL, "/"), page: cfg.Page, keys: secretkeys.Cache[*keys]{Secrets: cfg.Secrets, Derive: keysFor}}
	if _, err := c.keys.Get(context.Background()); err != nil {
		return nil, err
	}
	if c.page == nil {
		c.page = defaultPage
	}
	if c.page.Lookup("page") == nil {
		return nil, errors.New(`linkchannel: Config.Page does not define a template named "page"`)
	}
	return c, nil
}

// MessageData is what the message templates get.
type MessageData struct {
	// ClientName is the client that asks.
	ClientName string
	// Scopes are the requested scopes in plain language, in the order requested.
	Scopes []string
	// BindingMessage is the binding message, possibly empty.
	BindingMessage string
	// Link is the approve/deny link.
	Link string
	// ExpiresAt is when the link stops working; ExpiresInMinutes the same as minutes from now,
	// rounded up.
	ExpiresAt        time.Time
	ExpiresInMinutes int
}

// Notify implements ciba.AuthenticationDevice (CIBA Core §8): it sends a link to each of the user's
// devices that RecipientOf maps to an e-mail address or a phone number. Each device gets its own
// link; the first one used decides. It fails when none of the devices can carry a link, or when a
// message cannot be sent: the client then gets server_error at once, rather than waiting in vain.
//
// Notify delivers before it returns (an SMTP or SMS round trip). That keeps the answer honest (a
// request is only acknowledged once the person was reached) at the price of the client waiting.
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
		return notify.Permanent(fmt.Errorf("linkchannel: none of the %d devices of the user is an e-mail address or a phone number", len(n.Devices)))
	}
	return nil
}

func (c *Channel) recipientOf(ctx context.Context, subject string, d ciba.Device) (Recipient, bool, error) {
	if c.cfg.RecipientOf != nil {
		return c.cfg.RecipientOf(ctx, subject, d)
	}
	return DefaultRecipientOf(ctx, subject, d)
}

// DefaultRecipientOf maps a device of Kind "email" to an e-mail to its ID, and one of Kind "sms" to a
// text message to its ID (an E.164 number); other kinds are not this channel's.
func DefaultRecipientOf(_ context.Context, _ string, d ciba.Device) (Recipient, bool, error) {
	switch d.Kind {
	case string(notify.Email):
		return Recipient{To: d.ID, Channel: notify.Email}, true, nil
	case string(notify.SMS):
		return Recipient{To: d.ID, Channel: notify.SMS}, true, nil
	}
	return Recipient{}, false, nil
}

// Send delivers one request to one recipient: it stores a new link and sends the message with it.
// The link expires with the request, or after MaxLifetime when that is sooner. When sending fails the
// stored link is useless (nobody has it), and the error keeps notify's classification
// (notify.Retryable).
func (c *Channel) Send(ctx context.Context, rcpt Recipient, req ciba.Request) error {
	if req.Ref == "" || req.Subject == "" {
		return notify.Permanent(errors.New("linkchannel: the request has no reference or no subject"))
	}
	now := clock.Now(c.cfg.Now)
	exp := req.ExpiresAt
	if c.cfg.MaxLifetime > 0 && (exp.IsZero() || now.Add(c.cfg.MaxLifetime).Before(exp)) {
		exp = now.Add(c.cfg.MaxLifetime)
	}
	if !now.Before(exp) {
		return notify.Permanent(errors.New("linkchannel: the request has expired"))
	}
	name := TemplateEmail
	switch rcpt.Channel {
	case notify.Email:
	case notify.SMS:
		name = TemplateSMS
	default:
		return notify.Permanent(fmt.Errorf("linkchannel: channel %q cannot carry a link (want %q or %q)", rcpt.Channel, notify.Email, notify.SMS))
	}
	k, err := c.keys.Get(ctx)
	if err != nil {
		return err
	}
	token, sig, err := k.newToken(c.cfg.Rand)
	if err != nil {
		return err
	}
	clientName := req.ClientName
	if clientName == "" {
		clientName = req.ClientID
	}
	data := MessageData{
		ClientName:       clientName,
		Scopes:           c.describe(rcpt.Locale, req.Scopes),
		BindingMessage:   req.BindingMessage,
		Link:             c.linkURL + "/" + token,
		ExpiresAt:        exp,
		ExpiresInMinutes: int((exp.Sub(now) + time.Minute - 1) / time.Minute),
	}
	m, err := c.cfg.Templates.Render(name, rcpt.Locale, data)
	if err != nil {
		return notify.Permanent(err)
	}
	m.To, m.Channel = rcpt.To, rcpt.Channel
	m.Meta = map[string]string{"kind": "ciba-link", "client_id": req.ClientID}
	if err := m.Validate(); err != nil {
		return err
	}
	link := &Link{
		Signature: sig, Ref: req.Ref, Subject: req.Subject,
		ClientID: req.ClientID, ClientName: clientName, Scopes: append([]string(nil), req.Scopes...),
		BindingMessage: req.BindingMessage, Locale: m.Locale, CreatedAt: now, ExpiresAt: exp,
	}
	if err := c.cfg.Store.CreateCIBALink(ctx, link); err != nil {
		return fmt.Errorf("linkchannel: storing the link: %w", err)
	}
	if err := c.cfg.Sender.Send(ctx, m); err != nil {
		return err
	}
	c.cfg.Logger.InfoContext(ctx, "ciba link sent", slog.String("client_id", req.ClientID),
		slog.String("channel", string(m.Channel)), slog.Time("expires_at", exp))
	return nil
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
			d = builtinDescription(locale, s)
		}
		if d == "" {
			d = s
		}
		out = append(out, d)
	}
	return out
}

// builtinDescription is the built-in plain-language description of an OpenID Connect Core §5.4 scope
// or offline_access (§11), in German for "de" locales and in English otherwise; "" for other scopes.
func builtinDescription(locale, scope string) string {
	lang, _, _ := strings.Cut(strings.ReplaceAll(locale, "_", "-"), "-")
	if strings.EqualFold(lang, "de") {
		return scopeDescriptionsDE[scope]
	}
	return scopeDescriptionsEN[scope]
}

var scopeDescriptionsEN = map[string]string{
	"openid":         "confirm who you are",
	"profile":        "see your name and basic profile",
	"email":          "see your e-mail address",
	"phone":          "see your phone number",
	"address":        "see your postal address",
	"offline_access": "keep access while you are away",
}

var scopeDescriptionsDE = map[string]string{
	"openid":         "bestätigen, wer Sie sind",
	"profile":        "Ihren Namen und Ihr Profil sehen",
	"email":          "Ihre E-Mail-Adresse sehen",
	"phone":          "Ihre Telefonnummer sehen",
	"address":        "Ihre Postanschrift sehen",
	"offline_access": "Zugriff behalten, während Sie nicht da sind",
}
