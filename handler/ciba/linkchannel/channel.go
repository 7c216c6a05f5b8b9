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

	"github.com/fosite-contrib/grants/handler/pending"
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

// Request is one CIBA authentication request to be delivered to a person (CIBA Core §8: "the OP
// ... attempts to authenticate the user through the Authentication Device").
type Request struct {
	// HandleSignature identifies the pending grant (the signature of its auth_req_id).
	HandleSignature string
	// Subject is the user the request is for.
	Subject string
	// Recipient is where the link goes.
	Recipient Recipient
	// ClientID and ClientName name the client; ClientName falls back to ClientID.
	ClientID   string
	ClientName string
	// Scopes are the requested scopes, shown in plain language.
	Scopes []string
	// BindingMessage is the request's binding_message (CIBA §7.1), shown as it is.
	BindingMessage string
	// ExpiresAt is when the request expires; the link expires then too, or earlier (MaxLifetime).
	ExpiresAt time.Time
}

// Decider records the person's answer to a pending CIBA request: it approves or denies the grant
// whose auth_req_id has handleSignature, and, for ping and push clients, sees that the client is
// notified. It returns an error when the request is no longer pending (decided, consumed or expired).
type Decider interface {
	Decide(ctx context.Context, handleSignature string, d pending.Decision) error
}

// DeciderFunc adapts a function to Decider.
type DeciderFunc func(ctx context.Context, handleSignature string, d pending.Decision) error

// Decide calls f.
func (f DeciderFunc) Decide(ctx context.Context, handleSignature string, d pending.Decision) error {
	return f(ctx, handleSignature, d)
}

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

	// Templates renders the messages; nil means notify.NewTemplates("en", DefaultTemplates()).
	Templates *notify.Templates
	// DescribeScope turns a scope into plain language for locale; nil, or an empty answer, uses the
	// built-in English descriptions of the OpenID scopes, then the scope name itself.
	DescribeScope func(locale, scope string) string
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
	if _, err := deriveKeys(context.Background(), cfg.Secrets); err != nil {
		return nil, err
	}
	if cfg.Templates == nil {
		cfg.Templates = notify.NewTemplates("en", DefaultTemplates())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Channel{cfg: cfg, linkURL: strings.TrimRight(cfg.LinkURL, "/"), page: cfg.Page}
	if c.page == nil {
		c.page = defaultPage
	}
	if c.page.Lookup("page") == nil {
		return nil, errors.New(`linkchannel: Config.Page does not define a template named "page"`)
	}
	return c, nil
}

func (c *Channel) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
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

// Send delivers req: it stores a new link and sends the message with it. The link expires with the
// request, or after MaxLifetime when that is sooner. On a send error the link is stored but useless
// (nobody has it); the error keeps notify's classification (notify.Retryable).
func (c *Channel) Send(ctx context.Context, req Request) error {
	if req.HandleSignature == "" || req.Subject == "" {
		return notify.Permanent(errors.New("linkchannel: the request has no handle signature or no subject"))
	}
	now := c.now()
	exp := req.ExpiresAt
	if c.cfg.MaxLifetime > 0 && (exp.IsZero() || now.Add(c.cfg.MaxLifetime).Before(exp)) {
		exp = now.Add(c.cfg.MaxLifetime)
	}
	if !now.Before(exp) {
		return notify.Permanent(errors.New("linkchannel: the request has expired"))
	}
	name := TemplateEmail
	switch req.Recipient.Channel {
	case notify.Email:
	case notify.SMS:
		name = TemplateSMS
	default:
		return notify.Permanent(fmt.Errorf("linkchannel: channel %q cannot carry a link (want %q or %q)", req.Recipient.Channel, notify.Email, notify.SMS))
	}
	k, err := deriveKeys(ctx, c.cfg.Secrets)
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
		Scopes:           c.describe(req.Recipient.Locale, req.Scopes),
		BindingMessage:   req.BindingMessage,
		Link:             c.linkURL + "/" + token,
		ExpiresAt:        exp,
		ExpiresInMinutes: int((exp.Sub(now) + time.Minute - 1) / time.Minute),
	}
	m, err := c.cfg.Templates.Render(name, req.Recipient.Locale, data)
	if err != nil {
		return notify.Permanent(err)
	}
	m.To, m.Channel = req.Recipient.To, req.Recipient.Channel
	m.Meta = map[string]string{"kind": "ciba-link", "client_id": req.ClientID}
	if err := m.Validate(); err != nil {
		return err
	}
	link := &Link{
		Signature: sig, HandleSignature: req.HandleSignature, Subject: req.Subject,
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
