package otp

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// SessionInfo is what a SessionFactory knows when the right code is presented.
type SessionInfo struct {
	// Subject is the account the challenge was made for.
	Subject string
	// Client is the client redeeming the code.
	Client fosite.Client
	// Channel is the type of channel the code was sent on ("sms", "email", "voice").
	Channel ChannelType
	// AuthTime is when the person proved they hold the code.
	AuthTime time.Time
}

// SessionFactory makes the session tokens are issued with. For ID tokens it must return an
// openid.Session whose claims carry the subject, of the type the token endpoint hydrates sessions into.
type SessionFactory func(ctx context.Context, info SessionInfo) (fosite.Session, error)

// DefaultSession returns a SessionFactory making openid.DefaultSession values for issuer, with auth_time
// and amr (RFC 8176: "otp", plus "sms" for a code sent by text message).
func DefaultSession(issuer string) SessionFactory {
	return func(_ context.Context, info SessionInfo) (fosite.Session, error) {
		amr := []string{"otp"}
		if info.Channel == SMS {
			amr = append(amr, "sms")
		}
		return &openid.DefaultSession{
			Claims: &jwt.IDTokenClaims{
				Subject:                         info.Subject,
				Issuer:                          issuer,
				AuthTime:                        info.AuthTime.UTC().Truncate(time.Second),
				RequestedAt:                     info.AuthTime.UTC(),
				AuthenticationMethodsReferences: amr,
			},
			Headers: &jwt.Headers{},
			Subject: info.Subject,
		}, nil
	}
}

// TokenHandler is fosite's token endpoint handler for the OTP grant: grant_type (Options.GrantType),
// oob_code and binding_code. It is part of a Grant (see New); register the Grant with fosite.
type TokenHandler struct {
	lifecycle *pending.Lifecycle
	store     Storage
	options   *Options
}

var _ fosite.TokenEndpointHandler = (*TokenHandler)(nil)

// CanHandleTokenEndpointRequest reports whether the request uses the OTP grant type.
func (h *TokenHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne(string(h.options.GrantType))
}

// CanSkipClientAuth is false: the client authenticated at the challenge endpoint and does so again here.
func (h *TokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest checks the code (see the package guide): invalid_request for missing
// parameters, invalid_grant for a wrong, used, foreign or dead challenge, expired_token; and, for the
// right code, approves the challenge and prepares the request so that PopulateTokenEndpointResponse
// issues the tokens.
func (h *TokenHandler) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	grantType := h.options.GrantType
	client := req.GetClient()
	if !client.GetGrantTypes().Has(string(grantType)) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", grantType)
	}
	form := req.GetRequestForm()
	for _, p := range []string{"oob_code", "binding_code"} {
		if form.Get(p) == "" {
			return fosite.ErrInvalidRequest.WithHintf("The '%s' parameter is missing.", p)
		}
		if len(form[p]) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The '%s' parameter must not be included more than once.", p)
		}
	}
	// The lifecycle's answer: a pending challenge waits for its code, an approved one had the right code
	// presented before but its tokens were not issued (a signing or storage failure), so the right code
	// again may collect them; a denied one was locked out.
	g, now, err := h.lifecycle.Load(ctx, req, nil)
	switch {
	case errors.Is(err, pending.ErrAuthorizationPending), err == nil:
	case errors.Is(err, pending.ErrAccessDenied):
		return errLockedOut
	case errors.Is(err, pending.ErrReplayed):
		return fosite.ErrInvalidGrant.WithHint("The code has already been used.").WithWrap(pending.ErrReplayed)
	default:
		return err
	}

	// Count the attempt before comparing, so that concurrent guesses cannot exceed the limit.
	max := h.options.MaxAttempts
	n, err := h.store.IncrementAttempts(ctx, "otp-guess|"+g.HandleSignature, now, h.options.Lifespan)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	if n > max {
		if g.State == pending.StatePending {
			h.lockOut(ctx, g, now, n)
		}
		return errLockedOut
	}

	if !h.codeMatches(ctx, g, form.Get("binding_code")) {
		if n == max && g.State == pending.StatePending {
			h.lockOut(ctx, g, now, n)
			return errLockedOut
		}
		return errWrongCode(max - n)
	}

	if g.State == pending.StatePending {
		channel := ChannelType("")
		if id := g.Extra[extraChannel]; id != "" {
			if i := strings.IndexByte(id, '-'); i > 0 {
				channel = ChannelType(id[:i])
			}
		}
		sess, err := h.options.NewSession(ctx, SessionInfo{Subject: g.Subject, Client: client, Channel: channel, AuthTime: now})
		if err != nil {
			return rfc6749.ServerError(err)
		}
		d := pending.Decision{
			Approved: true, Subject: g.Subject, Session: sess,
			GrantedScopes: g.Request.GetRequestedScopes(), GrantedAudience: g.Request.GetRequestedAudience(),
		}
		if err := h.lifecycle.Decide(ctx, g, &d, nil); errors.Is(err, pending.ErrStateChanged) {
			return fosite.ErrInvalidGrant.WithHint("The challenge changed while the code was checked. Try again.")
		} else if err != nil {
			return err
		}
		g.Request.SetSession(sess)
		for _, s := range d.GrantedScopes {
			g.Request.GrantScope(s)
		}
		for _, a := range d.GrantedAudience {
			g.Request.GrantAudience(a)
		}
	}
	h.lifecycle.Prepare(ctx, g, grantType, req)
	return nil
}

// codeMatches compares the typed code with the stored hash in constant time. A decoy challenge, and one
// that no code was sent for, never matches, after the same work.
func (h *TokenHandler) codeMatches(ctx context.Context, g *pending.Grant, typed string) bool {
	code, ok := NormalizeCode(typed)
	if !ok || len(code) != h.options.CodeLength {
		code = "-" // hash something anyway; it cannot match a stored code
	}
	sig, err := codeSignature(ctx, h.lifecycle.Codes, g.HandleSignature, code)
	if err != nil {
		return false
	}
	match := subtle.ConstantTimeCompare([]byte(sig), []byte(g.UserCodeSignature)) == 1
	return match && ok && g.UserCodeSignature != "" && g.Extra[extraDecoy] != "1"
}

func (h *TokenHandler) lockOut(ctx context.Context, g *pending.Grant, now time.Time, attempts int) {
	err := h.lifecycle.Decide(ctx, g, &pending.Decision{Approved: false, Subject: g.Subject, Actor: "otp-lockout"}, nil)
	if errors.Is(err, pending.ErrStateChanged) {
		return // another request locked it out (or redeemed it) first
	} else if err != nil {
		h.log(ctx, slog.LevelError, "otp lockout not stored", slog.String("error", rfc6749.DebugOf(err)))
		return
	}
	data := map[string]any{"attempts": attempts}
	if g.Extra[extraDecoy] == "1" {
		data["decoy"] = true
	}
	h.record(ctx, audit.Event{Type: audit.EventOTPLockout, Grant: audit.GrantOTP, Subject: g.Subject, ClientID: g.ClientID(),
		RequestID: g.Request.GetID(), Time: now, Data: data})
	h.log(ctx, slog.LevelWarn, "otp challenge locked out after too many wrong codes",
		slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID()))
}

// PopulateTokenEndpointResponse consumes the approved challenge and issues its tokens in one step.
func (h *TokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	if err := h.lifecycle.Redeem(ctx, h.options.GrantType, req, resp); err != nil {
		return err
	}
	h.record(ctx, audit.Event{Type: audit.EventRedeemed, Grant: audit.GrantOTP, Subject: req.GetSession().GetSubject(),
		ClientID: req.GetClient().GetID(), RequestID: req.GetID(), Time: clock.Now(h.options.Now),
		Data: map[string]any{"scope": []string(req.GetGrantedScopes())}})
	return nil
}

// replayed audits the revocation a replayed challenge caused, or tried (pending.ReplayEvent).
func (h *TokenHandler) replayed(ctx context.Context, g *pending.Grant, revocationErr error) {
	h.record(ctx, pending.ReplayEvent(g, revocationErr, clock.Now(h.options.Now)))
}

// GrantTypes lists the grant type this handler serves, for discovery.
func (h *TokenHandler) GrantTypes() []fosite.GrantType {
	return []fosite.GrantType{h.options.GrantType}
}

func (h *TokenHandler) record(ctx context.Context, ev audit.Event) {
	if h.options.Audit == nil {
		return
	}
	if err := h.options.Audit.Record(ctx, ev); err != nil {
		h.log(ctx, slog.LevelError, "audit event not recorded", slog.String("type", ev.Type), slog.String("error", err.Error()))
	}
}

func (h *TokenHandler) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if h.options.Logger != nil {
		h.options.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
