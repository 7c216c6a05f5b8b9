package otp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/notify"
)

// BindingMethodPrompt is the binding_method of a sent code: the person reads the code from the message
// and the client prompts for it (the value Auth0's and Okta's out-of-band APIs use).
const BindingMethodPrompt = "prompt"

// MaxLoginHintLength bounds login_hint, in bytes.
const MaxLoginHintLength = 256

// Keys of pending.Grant.Extra the grant uses. None holds a secret.
const (
	extraChannels = "channels" // JSON list of the offered channels (IDs, types, masked destinations)
	extraChannel  = "channel"  // the channel ID of the last send
	extraDecoy    = "decoy"    // "1" for a decoy challenge
	extraLocale   = "locale"   // the ui_locales the client sent
	extraQuotaKey = "quota"    // keyed hash naming the identifier for the per-identifier quota
	// extraPersonKey is a keyed hash naming the account (the identifier, for a decoy) for the silent
	// per-person quota. Challenges stored before it existed count per identifier only.
	extraPersonKey = "person"
)

// ChallengeResponse is the challenge endpoint's answer. The identify step fills OOBCode, ExpiresIn and
// Channels; the send step fills OOBCode, ExpiresIn, Channel, BindingMethod and Interval; a request that
// does both (channel_hint) gets all of them.
type ChallengeResponse struct {
	// OOBCode is the challenge's handle, which the client sends back to ask for a code and to redeem it.
	OOBCode string `json:"oob_code"`
	// ExpiresIn is the challenge's remaining life in seconds.
	ExpiresIn int64 `json:"expires_in"`
	// Channels are the delivery options, with masked destinations.
	Channels []Channel `json:"channels,omitempty"`
	// Channel is the ID of the channel the code was sent on.
	Channel string `json:"channel,omitempty"`
	// BindingMethod is "prompt": the person types the code into the client.
	BindingMethod string `json:"binding_method,omitempty"`
	// Interval is the minimum number of seconds before another code may be sent on this challenge.
	Interval int64 `json:"interval,omitempty"`
}

// ChallengeEndpoint serves the OTP challenge endpoint (see the package guide for the protocol). Mount it
// (it is an http.Handler) at the URL published as otp_challenge_endpoint. Get one from New
// (Grant.Challenge).
type ChallengeEndpoint struct {
	provider  *fosite.Fosite
	config    fosite.Configurator
	lifecycle *pending.Lifecycle
	store     Storage
	options   *Options

	deliveries sync.WaitGroup // deliveries still running after their answer
}

// ServeHTTP runs the endpoint and writes the answer or the RFC 6749 §5.2 error.
func (e *ChallengeEndpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	resp, err := e.Handle(ctx, r)
	if err != nil {
		e.writeError(ctx, rw, r, err)
		return
	}
	WriteChallengeResponse(rw, resp)
}

// WriteChallengeResponse writes a challenge response: 200, JSON, not cacheable.
func WriteChallengeResponse(rw http.ResponseWriter, resp *ChallengeResponse) {
	rfc6749.WriteJSON(rw, http.StatusOK, resp)
}

func (e *ChallengeEndpoint) writeError(ctx context.Context, rw http.ResponseWriter, r *http.Request, err error) {
	rfc6749.SetErrorHeaders(rw, r, err)
	rfc6749.LogRefused(ctx, e.options.Logger, "otp challenge request refused", err)
	e.provider.WriteAccessError(ctx, rw, nil, rfc6749.Sanitize(err))
}

// Request is a parsed challenge request.
type Request struct {
	Client fosite.Client
	// Form is the request's parameters minus client credentials.
	Form url.Values
	// LoginHint, Scopes and Audience are set in the identify step.
	LoginHint string
	Scopes    []string
	Audience  []string
	// OOBCode is set in the send step.
	OOBCode string
	// Channel is the channel to send on: channel in the send step, channel_hint in the identify step.
	Channel string
	// Locale is the first of ui_locales.
	Locale string
	// RemoteAddr is the client's network address.
	RemoteAddr string
}

// Handle runs one request: the identify step (login_hint), the send step (oob_code and channel), or both
// (login_hint and channel_hint).
func (e *ChallengeEndpoint) Handle(ctx context.Context, r *http.Request) (*ChallengeResponse, error) {
	form, err := rfc6749.ParseForm(r)
	if err != nil {
		return nil, err
	}
	client, err := rfc6749.AuthenticateClient(ctx, e.provider, r, form)
	if err != nil {
		return nil, err
	}
	req, err := e.ParseRequest(ctx, client, form)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = remoteHost(r)
	if req.OOBCode != "" {
		return e.Send(ctx, req)
	}
	return e.Identify(ctx, req)
}

// ParseRequest checks an authenticated client's challenge request: the client must be confidential and
// hold the OTP grant type, and the parameters must make one of the two steps.
func (e *ChallengeEndpoint) ParseRequest(ctx context.Context, client fosite.Client, form url.Values) (*Request, error) {
	grantType := e.options.GrantType
	if client.IsPublic() {
		return nil, fosite.ErrUnauthorizedClient.WithHint("Only confidential clients may use the OTP grant.")
	}
	if !client.GetGrantTypes().Has(string(grantType)) {
		return nil, fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", grantType)
	}
	req := &Request{Client: client, Form: rfc6749.WithoutCredentials(form), Locale: firstLocale(form.Get("ui_locales"))}
	for _, p := range []string{"login_hint", "channel_hint", "oob_code", "channel", "ui_locales", "scope"} {
		if v := form.Get(p); !utf8.ValidString(v) || len(v) > MaxLoginHintLength*4 {
			return nil, fosite.ErrInvalidRequest.WithHintf("The parameter '%s' is not valid.", p)
		}
	}
	if oob := form.Get("oob_code"); oob != "" {
		for _, p := range []string{"login_hint", "channel_hint", "scope", "audience"} {
			if form.Get(p) != "" {
				return nil, fosite.ErrInvalidRequest.WithHintf("The parameter '%s' belongs to a new challenge, not to a request with 'oob_code'.", p)
			}
		}
		if form.Get("channel") == "" {
			return nil, fosite.ErrInvalidRequest.WithHint("The 'channel' parameter is missing: name one of the challenge's channels.")
		}
		req.OOBCode, req.Channel = oob, form.Get("channel")
		return req, nil
	}
	if form.Get("channel") != "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The 'channel' parameter needs an 'oob_code'; to choose a channel when starting, use 'channel_hint'.")
	}
	hint := strings.TrimSpace(form.Get("login_hint"))
	if hint == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The 'login_hint' parameter is missing.")
	}
	if len(hint) > MaxLoginHintLength {
		return nil, fosite.ErrInvalidRequest.WithHintf("The 'login_hint' parameter is longer than %d bytes.", MaxLoginHintLength)
	}
	req.LoginHint, req.Channel = hint, form.Get("channel_hint")
	req.Scopes = fosite.RemoveEmpty(strings.Split(form.Get("scope"), " "))
	req.Audience = fosite.GetAudiences(form)
	for _, scope := range req.Scopes {
		if !e.config.GetScopeStrategy(ctx)(client.GetScopes(), scope) {
			return nil, fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope '%s'.", scope)
		}
	}
	if err := e.lifecycle.CheckScopes(ctx, client, req.Scopes); err != nil {
		return nil, err
	}
	if err := e.config.GetAudienceStrategy(ctx)(client.GetAudience(), req.Audience); err != nil {
		return nil, err
	}
	return req, nil
}

// Identify starts a challenge for req.LoginHint and, when req.Channel is set, sends the first code.
//
// An identifier that names nobody (or an account with nowhere to send) gets a decoy: a stored challenge
// of the same shape, made with the same work, whose channels are derived from a keyed hash of the
// identifier and whose codes go nowhere and never redeem.
func (e *ChallengeEndpoint) Identify(ctx context.Context, req *Request) (*ChallengeResponse, error) {
	now := clock.Now(e.options.Now)
	if err := e.lifecycle.Admit(ctx, pending.Initiation{Client: req.Client, Address: req.RemoteAddr}); err != nil {
		return nil, err
	}
	q := e.options.Quotas
	if err := e.quota(ctx, "challenge|addr|"+req.RemoteAddr, q.ChallengesPerAddress, now, q.Window); err != nil {
		return nil, err
	}
	var (
		channels []Channel
		subject  string
		decoy    bool
		locale   = req.Locale
	)
	acct, err := e.options.Directory.LookupAccount(ctx, req.LoginHint)
	switch {
	case errors.Is(err, ErrUnknownAccount):
		decoy = true
	case err != nil:
		return nil, rfc6749.ServerError(fmt.Errorf("the directory failed: %w", err))
	default:
		channels, _ = channelsOf(ctx, e.options.Mask, acct.Destinations)
		subject = acct.Subject
		decoy = len(channels) == 0 || subject == ""
		if locale == "" {
			locale = acct.Locale
		}
	}
	// The visible quota counts the identifier, as typed (normalised), for every identifier alike; the
	// silent one counts the person behind it (a decoy's "person" is its identifier). Both keys are
	// computed for every challenge: the same work whatever the identifier names.
	idKey := "hint\x00" + normalizeHint(req.LoginHint)
	personKey := idKey
	if decoy {
		channels, err = e.decoyChannels(ctx, req.LoginHint)
		if err != nil {
			return nil, err
		}
		subject = ""
	} else {
		personKey = "subject\x00" + subject
	}
	quotaKey, err := e.lifecycle.Codes.UserCodeSignature(ctx, "otp-quota", idKey)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	personQuotaKey, err := e.lifecycle.Codes.UserCodeSignature(ctx, "otp-quota", personKey)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	encoded, err := json.Marshal(channels)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}

	fr := fosite.NewRequest()
	fr.RequestedAt = now
	fr.Client = req.Client
	fr.Form = req.Form
	fr.RequestedScope = req.Scopes
	fr.RequestedAudience = req.Audience
	lifespan := e.lifecycle.CapLifespan(req.Client, e.options.Lifespan)
	g := &pending.Grant{
		Request:        fr,
		CreatedAt:      now,
		ExpiresAt:      now.Add(lifespan),
		ResendInterval: e.options.ResendInterval,
		Subject:        subject,
		LoginHint:      req.LoginHint,
		Device:         pending.DeviceInfo{RemoteAddr: req.RemoteAddr},
		Extra:          map[string]string{extraChannels: string(encoded), extraQuotaKey: quotaKey, extraPersonKey: personQuotaKey},
	}
	if decoy {
		g.Extra[extraDecoy] = "1"
	}
	if locale != "" {
		g.Extra[extraLocale] = locale
	}
	started, err := e.lifecycle.Start(ctx, g, pending.StartOptions{})
	if err != nil {
		return nil, err
	}
	handle := started.Handle
	resp := &ChallengeResponse{OOBCode: handle, ExpiresIn: seconds(lifespan), Channels: channels}
	if req.Channel == "" {
		return resp, nil
	}
	sent, err := e.send(ctx, req, g, now)
	if err != nil {
		return nil, err
	}
	sent.OOBCode, sent.Channels = handle, channels
	return sent, nil
}

// Send sends a new code on the challenge req.OOBCode names, over req.Channel. The new code replaces
// the previous one.
func (e *ChallengeEndpoint) Send(ctx context.Context, req *Request) (*ChallengeResponse, error) {
	sig, err := e.lifecycle.Codes.HandleSignature(ctx, req.OOBCode)
	if err != nil {
		return nil, err
	}
	g, err := e.store.GetPendingGrant(ctx, pending.KindOTP, sig, nil)
	if errors.Is(err, pending.ErrNotFound) {
		return nil, fosite.ErrInvalidGrant.WithHint("The oob_code is unknown.")
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	now := clock.Now(e.options.Now)
	if err := sendable(g, req.Client.GetID(), now); err != nil {
		return nil, err
	}
	return e.send(ctx, req, g, now)
}

// sendable maps a challenge's state to the send step's answer: nil when a code may be sent now.
func sendable(g *pending.Grant, clientID string, now time.Time) error {
	switch {
	case g.ClientID() != clientID:
		return fosite.ErrInvalidGrant.WithHint("The oob_code is unknown.").
			WithDebugf("The challenge was issued to client %q, not %q.", g.ClientID(), clientID)
	case g.State == pending.StateConsumed || g.State == pending.StateApproved:
		return fosite.ErrInvalidGrant.WithHint("The challenge has already been used.")
	case g.Expired(now):
		return pending.ErrExpiredToken
	case g.State == pending.StateDenied:
		return errLockedOut
	case !g.CodeSentAt.IsZero() && now.Before(g.CodeSentAt.Add(g.ResendInterval)):
		return ErrResendTooSoon.WithHintf("Wait %d more seconds before asking for another code.", seconds(g.CodeSentAt.Add(g.ResendInterval).Sub(now)))
	}
	return nil
}

var errLockedOut = fosite.ErrInvalidGrant.WithHint("Too many wrong codes were tried: this challenge is closed. Start a new one.")

func (e *ChallengeEndpoint) send(ctx context.Context, req *Request, g *pending.Grant, now time.Time) (*ChallengeResponse, error) {
	var channels []Channel
	if err := json.Unmarshal([]byte(g.Extra[extraChannels]), &channels); err != nil {
		return nil, rfc6749.ServerError(fmt.Errorf("stored channels are unreadable: %w", err))
	}
	idx := pickChannel(channels, req.Channel)
	if idx < 0 {
		return nil, fosite.ErrInvalidRequest.WithHint("The channel is not one of the challenge's channels.")
	}
	ch := channels[idx]

	q := e.options.Quotas
	for _, c := range []struct {
		key   string
		limit int
	}{
		{"send|id|" + g.Extra[extraQuotaKey], q.PerIdentifier},
		{"send|client|" + g.ClientID(), q.PerClient},
		{"send|addr|" + req.RemoteAddr, q.PerAddress},
	} {
		if err := e.quota(ctx, c.key, c.limit, now, q.Window); err != nil {
			return nil, err
		}
	}
	// The per-person quota is silent: over it, the send is answered as any other and nothing goes out.
	person := g.Extra[extraPersonKey]
	if person == "" {
		person = g.Extra[extraQuotaKey]
	}
	suppressed := false
	if err := e.quota(ctx, "send|person|"+person, q.PerPerson, now, q.Window); errors.Is(err, ErrQuotaExceeded) {
		suppressed = true
	} else if err != nil {
		return nil, err
	}

	format := CodeFormat(e.options.CodeLength)
	code, err := format.Generate(e.lifecycle.Codes.Rand)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	codeSig, err := codeSignature(ctx, e.lifecycle.Codes, g.HandleSignature, code)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if err := e.store.SetChallengeCode(ctx, g.HandleSignature, codeSig, ch.ID, now); errors.Is(err, pending.ErrStateChanged) || errors.Is(err, pending.ErrNotFound) {
		// Another send, a redemption or a lockout came first: answer as for that state.
		if cur, gerr := e.store.GetPendingGrant(ctx, pending.KindOTP, g.HandleSignature, nil); gerr == nil {
			if serr := sendable(cur, g.ClientID(), now); serr != nil {
				return nil, serr
			}
		}
		return nil, ErrResendTooSoon
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}

	msg, rerr := e.render(ctx, req.Client, g, code, ch, now)
	e.deliver(ctx, g, ch, msg, rerr, suppressed, now)
	return &ChallengeResponse{
		OOBCode:       req.OOBCode,
		ExpiresIn:     seconds(g.ExpiresAt.Sub(now)),
		Channel:       ch.ID,
		BindingMethod: BindingMethodPrompt,
		Interval:      seconds(g.ResendInterval),
	}, nil
}

// deliver delivers msg, whose rendering failed when rerr is set, after the answer: the endpoint answers
// a real send, a decoy's and a suppressed one (over the per-person quota) after the same work, and the
// Sender's latency — which only a real send has — is not in the answer's timing. Every send is audited
// (EventOTPSent: channel, masked destination, delivered, decoy or suppressed) once its delivery is
// done. Flush waits for deliveries still running.
func (e *ChallengeEndpoint) deliver(ctx context.Context, g *pending.Grant, ch Channel, msg notify.Message, rerr error, suppressed bool, now time.Time) {
	decoy := g.Extra[extraDecoy] == "1"
	ctx = context.WithoutCancel(ctx)
	e.deliveries.Add(1)
	go func() {
		defer e.deliveries.Done()
		delivered := false
		switch {
		case rerr != nil:
			e.log(ctx, slog.LevelError, "otp message could not be rendered", slog.String("error", rerr.Error()))
		case decoy:
			// A decoy's code goes nowhere.
		case suppressed:
			e.log(ctx, slog.LevelWarn, "otp code not sent: the account's send quota is used up",
				slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID()))
		default:
			sctx, cancel := context.WithTimeout(ctx, e.options.SendTimeout)
			msg.To, rerr = e.destination(sctx, g, ch)
			if rerr == nil {
				rerr = e.options.Sender.Send(sctx, msg)
			}
			cancel()
			if rerr != nil {
				// Told to nobody but the log and the audit trail: the answer was the same as for a decoy.
				// The person asks again after the interval.
				e.log(ctx, slog.LevelError, "otp code not delivered", slog.String("channel", ch.ID), slog.String("error", rerr.Error()))
			} else {
				delivered = true
			}
		}
		data := map[string]any{"channel": string(ch.Type), "destination": ch.Destination, "delivered": delivered}
		if decoy {
			data["decoy"] = true
		}
		if suppressed {
			data["suppressed"] = "per_person_quota"
		}
		e.record(ctx, audit.Event{
			Type: audit.EventOTPSent, Grant: audit.GrantOTP, Subject: g.Subject, ClientID: g.ClientID(),
			RequestID: g.Request.GetID(), Time: now, Data: data,
		})
	}()
}

// Flush waits until every code the endpoint has answered for is delivered (or has failed) and audited:
// call it before shutting down, and in tests.
func (e *ChallengeEndpoint) Flush() { e.deliveries.Wait() }

// destination finds the real address behind a channel, asking the directory again, so that addresses
// are never copied into the pending-grant store.
func (e *ChallengeEndpoint) destination(ctx context.Context, g *pending.Grant, ch Channel) (string, error) {
	acct, err := e.options.Directory.LookupAccount(ctx, g.LoginHint)
	if err != nil {
		return "", err
	}
	if acct.Subject != g.Subject {
		return "", errors.New("otp: the login hint now names another account")
	}
	chs, addrs := channelsOf(ctx, e.options.Mask, acct.Destinations)
	for i, c := range chs {
		if c == ch {
			return addrs[i], nil
		}
	}
	return "", errors.New("otp: the channel is no longer one of the account's")
}

func (e *ChallengeEndpoint) render(ctx context.Context, client fosite.Client, g *pending.Grant, code string, ch Channel, now time.Time) (notify.Message, error) {
	tmpl, namer := e.options.Templates, e.options.ClientName
	locale := g.Extra[extraLocale]
	var scopes []string
	for _, s := range g.Request.GetRequestedScopes() {
		if e.options.Scopes != nil {
			scopes = append(scopes, e.options.Scopes.DescribeScope(ctx, s, locale))
		} else {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 0 {
		scopes = []string{"sign you in"}
	}
	left := g.ExpiresAt.Sub(now)
	minutes := int(left / time.Minute)
	if minutes < 1 {
		minutes = 1
	}
	m, err := tmpl.Render(TemplateName(ch.Type), locale, MessageData{
		Code: code, SpacedCode: spaced(code), ClientName: namer(ctx, client), Scopes: scopes,
		ExpiresInMinutes: minutes, ExpiresAt: g.ExpiresAt,
	})
	if err != nil {
		return notify.Message{}, err
	}
	m.Channel = ch.Type
	m.Meta = map[string]string{"kind": "otp", "client_id": client.GetID()}
	return m, nil
}

// quota counts one use of key and refuses it when the count passes limit (0: no limit). Counting first
// makes the limit exact across concurrent requests and instances.
func (e *ChallengeEndpoint) quota(ctx context.Context, key string, limit int, now time.Time, window time.Duration) error {
	if limit <= 0 {
		return nil
	}
	n, err := e.store.IncrementAttempts(ctx, "otp-quota|"+key, now, window)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	if n > limit {
		return ErrQuotaExceeded.WithWrap(rfc6749.RetryAfter(window)).WithHint("The send quota is used up. Try again later.")
	}
	return nil
}

// decoyChannels derives a stable, plausible channel list for an identifier that names nobody, from a
// keyed hash of the identifier: the same identifier always shows the same masked destinations, and
// nobody without the server's secret can tell them from real ones. An identifier that is itself a
// phone number or an e-mail address is shown masked as itself, as a real account's would be.
func (e *ChallengeEndpoint) decoyChannels(ctx context.Context, hint string) ([]Channel, error) {
	mac, err := e.lifecycle.Codes.UserCodeSignature(ctx, "otp-decoy", normalizeHint(hint))
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || len(b) < 16 {
		return nil, fosite.ErrServerError.WithDebug("decoy hash too short")
	}
	types := e.options.DecoyChannels
	dests := make([]Destination, 0, len(types))
	for i, t := range types {
		r := b[(i*5)%(len(b)-5):]
		switch t {
		case SMS, Voice:
			addr := "+1555" + digits(r, 7)
			if looksLikePhone(hint) {
				addr = hint
			}
			dests = append(dests, Destination{Type: t, Address: addr})
		case Email:
			tlds := []string{"com", "com", "com", "net", "org"}
			addr := string(rune('a'+r[0]%26)) + "x@" + string(rune('a'+r[1]%26)) + "x." + tlds[int(r[2])%len(tlds)]
			if strings.Contains(hint, "@") {
				addr = hint
			}
			dests = append(dests, Destination{Type: t, Address: addr})
		}
	}
	chs, _ := channelsOf(ctx, e.options.Mask, dests)
	return chs, nil
}

func digits(b []byte, n int) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = '0' + b[i%len(b)]%10
	}
	return string(out)
}

func looksLikePhone(s string) bool {
	n := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			n++
		case strings.ContainsRune("+-(). ", c):
		default:
			return false
		}
	}
	return n >= 7
}

// normalizeHint is the form of an identifier the decoy and quota keys are computed from: lower case,
// white space collapsed.
func normalizeHint(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func (e *ChallengeEndpoint) record(ctx context.Context, ev audit.Event) {
	if e.options.Audit == nil {
		return
	}
	if err := e.options.Audit.Record(ctx, ev); err != nil {
		e.log(ctx, slog.LevelError, "audit event not recorded", slog.String("type", ev.Type), slog.String("error", err.Error()))
	}
}

func (e *ChallengeEndpoint) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if e.options.Logger != nil {
		e.options.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}

func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
