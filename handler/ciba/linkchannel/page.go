package linkchannel

import (
	"bytes"
	_ "embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
)

//go:embed page.html
var defaultPageSource string

var defaultPage = template.Must(template.New("linkchannel").Parse(defaultPageSource))

// The views of the link page, PageData.View.
const (
	ViewConfirm  = "confirm"  // the request, with Approve and Deny (200; 400 after a wrong answer)
	ViewApproved = "approved" // approved just now (200)
	ViewDenied   = "denied"   // denied just now (200)
	ViewUsed     = "used"     // the link was used before (409); Outcome says how
	ViewExpired  = "expired"  // the link has expired (410)
	ViewInvalid  = "invalid"  // not a link this server sent (404)
	ViewTooMany  = "too_many" // too many wrong answers to the knowledge check (429)
	ViewClosed   = "closed"   // the request was answered elsewhere or ended meanwhile (409)
	ViewError    = "error"    // something failed on the server (500)
	maxFormBytes = 16 << 10
)

// PageData is what the page template gets.
type PageData struct {
	// View says which page to show (ViewConfirm, ...).
	View string
	// Token is the link token, for the form's hidden "token" field (ViewConfirm only).
	Token string
	// ClientName, Scopes (in plain language), BindingMessage, SentAt and ExpiresAt describe the request.
	ClientName     string
	Scopes         []string
	BindingMessage string
	SentAt         time.Time
	ExpiresAt      time.Time
	// Account names the account that approves with this link (Config.DescribeAccount, else the
	// subject), so that the person sees whose access they give.
	Account string
	// Fields are the knowledge-check inputs to show with Approve.
	Fields []Field
	// Error is a sentence for the person after a wrong answer.
	Error string
	// Outcome is what was decided earlier (ViewUsed): OutcomeApproved or OutcomeDenied.
	Outcome string
	// Locale is the language the message was sent in.
	Locale string
}

// Handler serves the link page. Mount it at the path of Config.LinkURL with a trailing slash, e.g.
//
//	mux.Handle("/ciba/link/", ch.Handler())
//
// GET (and HEAD) shows the request and changes nothing, so mail scanners that open links do no
// harm. POST with the form fields "token" and "action" ("approve" or "deny"), plus the knowledge
// fields, decides. No cookie is involved: the only credential is the link token, which the form
// carries itself, so a cross-site form cannot forge a decision (it does not know the token). The
// page is never cached, never framed, and sends no Referer.
func (c *Channel) Handler() http.Handler { return http.HandlerFunc(c.serve) }

func (c *Channel) serve(rw http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		token := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		c.show(rw, r, token)
	case http.MethodPost:
		c.decide(rw, r)
	default:
		rw.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// load checks the token and returns the link; on failure it has written the page.
func (c *Channel) load(rw http.ResponseWriter, r *http.Request, token string) (*Link, string) {
	ctx := r.Context()
	k, err := c.keys.Get(ctx)
	if err != nil {
		c.fail(rw, r, err)
		return nil, ""
	}
	sig, err := k.verify(token)
	if err != nil {
		c.render(rw, http.StatusNotFound, PageData{View: ViewInvalid})
		return nil, ""
	}
	l, err := c.cfg.Store.GetCIBALink(ctx, sig)
	if errors.Is(err, ErrNotFound) {
		c.render(rw, http.StatusNotFound, PageData{View: ViewInvalid})
		return nil, ""
	}
	if err != nil {
		c.fail(rw, r, err)
		return nil, ""
	}
	if c.ended(rw, l) {
		return nil, ""
	}
	// The request may have been answered on another device, or through another link.
	if _, err := c.cfg.Decider.Lookup(ctx, l.Ref, l.Subject); err != nil {
		c.decisionFailed(rw, r, l, err)
		return nil, ""
	}
	return l, sig
}

// decisionFailed shows a request the core no longer has pending as closed, and other failures as
// errors.
func (c *Channel) decisionFailed(rw http.ResponseWriter, r *http.Request, l *Link, err error) {
	if !errors.Is(err, ciba.ErrRequestNotFound) && fosite.ErrorToRFC6749Error(err).CodeField >= 500 {
		c.fail(rw, r, err)
		return
	}
	c.cfg.Logger.InfoContext(r.Context(), "ciba link: request no longer pending", slog.String("client_id", l.ClientID))
	c.render(rw, http.StatusConflict, PageData{View: ViewClosed, ClientName: l.ClientName, Locale: l.Locale})
}

// ended writes the used or expired page and reports true when l can no longer be used.
func (c *Channel) ended(rw http.ResponseWriter, l *Link) bool {
	switch {
	case !l.UsedAt.IsZero():
		c.render(rw, http.StatusConflict, PageData{View: ViewUsed, Outcome: l.Outcome, ClientName: l.ClientName, Locale: l.Locale})
	case l.ExpiresAt.IsZero() || !clock.Now(c.cfg.Now).Before(l.ExpiresAt):
		c.render(rw, http.StatusGone, PageData{View: ViewExpired, ClientName: l.ClientName, Locale: l.Locale})
	default:
		return false
	}
	return true
}

func (c *Channel) confirmData(r *http.Request, l *Link, token string) PageData {
	d := PageData{
		View: ViewConfirm, Token: token, ClientName: l.ClientName, Scopes: c.describe(l.Locale, l.Scopes),
		BindingMessage: l.BindingMessage, SentAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, Locale: l.Locale,
		Account: l.Subject,
	}
	if c.cfg.DescribeAccount != nil {
		if a := c.cfg.DescribeAccount(r.Context(), l.Subject); a != "" {
			d.Account = a
		}
	}
	if c.cfg.Knowledge != nil {
		d.Fields = c.cfg.Knowledge.Fields(r.Context(), l.Subject)
	}
	return d
}

func (c *Channel) show(rw http.ResponseWriter, r *http.Request, token string) {
	l, _ := c.load(rw, r, token)
	if l == nil {
		return
	}
	c.render(rw, http.StatusOK, c.confirmData(r, l, token))
}

func (c *Channel) decide(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(rw, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.render(rw, http.StatusBadRequest, PageData{View: ViewInvalid})
		return
	}
	token := r.PostFormValue("token")
	l, sig := c.load(rw, r, token)
	if l == nil {
		return
	}
	var outcome string
	switch r.PostFormValue("action") {
	case "approve":
		outcome = OutcomeApproved
	case "deny":
		outcome = OutcomeDenied
	default:
		d := c.confirmData(r, l, token)
		d.Error = "Choose Approve or Deny."
		c.render(rw, http.StatusBadRequest, d)
		return
	}
	now := clock.Now(c.cfg.Now)
	if outcome == OutcomeApproved && c.cfg.Knowledge != nil && len(c.cfg.Knowledge.Fields(ctx, l.Subject)) > 0 {
		if err := c.cfg.Limiter.Allow(ctx, pending.Caller{Account: l.Subject}, now); err != nil {
			if errors.Is(err, pending.ErrTooManyAttempts) {
				c.render(rw, http.StatusTooManyRequests, PageData{View: ViewTooMany, ClientName: l.ClientName, Locale: l.Locale})
				return
			}
			c.fail(rw, r, err)
			return
		}
		if err := c.cfg.Knowledge.Verify(ctx, l.Subject, r.PostForm); err != nil {
			if !errors.Is(err, ErrWrongAnswer) {
				c.fail(rw, r, err)
				return
			}
			if err := c.cfg.Limiter.Fail(ctx, pending.Caller{Account: l.Subject}, now); err != nil {
				c.fail(rw, r, err)
				return
			}
			c.cfg.Logger.InfoContext(ctx, "ciba link: wrong knowledge answer", slog.String("client_id", l.ClientID))
			d := c.confirmData(r, l, token)
			d.Error = "The answers do not match our records. Check them and try again."
			c.render(rw, http.StatusBadRequest, d)
			return
		}
	}
	// Use the link first: of two concurrent submissions only one gets here with the link unused.
	if err := c.cfg.Store.UseCIBALink(ctx, sig, now, outcome); err != nil {
		if errors.Is(err, ErrUsed) {
			if l2, err2 := c.cfg.Store.GetCIBALink(ctx, sig); err2 == nil && c.ended(rw, l2) {
				return
			}
			c.render(rw, http.StatusConflict, PageData{View: ViewUsed, ClientName: l.ClientName, Locale: l.Locale})
			return
		}
		c.fail(rw, r, err)
		return
	}
	var err error
	if outcome == OutcomeApproved {
		err = c.cfg.Decider.Approve(ctx, l.Ref, pending.Decision{
			Approved: true, Subject: l.Subject, Session: c.cfg.NewSession(ctx, l.Subject, now),
			GrantedScopes: append([]string{}, l.Scopes...),
		})
	} else {
		err = c.cfg.Decider.Deny(ctx, l.Ref, l.Subject)
	}
	if err != nil {
		c.decisionFailed(rw, r, l, err)
		return
	}
	c.cfg.Logger.InfoContext(ctx, "ciba link decision", slog.String("client_id", l.ClientID), slog.String("outcome", outcome))
	view := ViewApproved
	if outcome != OutcomeApproved {
		view = ViewDenied
	}
	c.render(rw, http.StatusOK, PageData{View: view, ClientName: l.ClientName, Locale: l.Locale})
}

func (c *Channel) fail(rw http.ResponseWriter, r *http.Request, err error) {
	c.cfg.Logger.ErrorContext(r.Context(), "ciba link page failed", slog.String("error", err.Error()))
	c.render(rw, http.StatusInternalServerError, PageData{View: ViewError})
}

func (c *Channel) render(rw http.ResponseWriter, status int, d PageData) {
	var buf bytes.Buffer
	if err := c.page.ExecuteTemplate(&buf, "page", d); err != nil {
		c.cfg.Logger.Error("ciba link page template failed", slog.String("error", err.Error()))
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	rw.WriteHeader(status)
	_, _ = buf.WriteTo(rw)
}
