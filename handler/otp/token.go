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

// TokenHandler is fosite's token endpoint handler for the OTP grant: grant_type (GrantTypeProvider),
// oob_code and binding_code. Register it with compose (OTPFactory) and fosite's token endpoint serves
// the grant.
type TokenHandler struct {
	Storage TokenStorage
	Codes   *pending.Codes
	Issuer  *pending.TokenIssuer
	Config  interface {
		GrantTypeProvider
		CodeLengthProvider
		LifespanProvider
		MaxAttemptsProvider
	}
	// NewSession makes the session of the tokens. Required.
	NewSession SessionFactory
	// Audit records redemptions and lockouts; nil records nothing.
	Audit audit.Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives replays, lockouts and storage failures; nil discards. Codes are never logged.
	Logger *slog.Logger
}

var _ fosite.TokenEndpointHandler = (*TokenHandler)(nil)

func (h *TokenHandler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

// CanHandleTokenEndpointRequest reports whether the request uses the OTP grant type.
func (h *TokenHandler) CanHandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne(string(h.Config.GetOTPGrantType(ctx)))
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
	grantType := h.Config.GetOTPGrantType(ctx)
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
	sig, err := h.Codes.HandleSignature(ctx, form.Get("oob_code"))
	if err != nil {
		return err
	}
	g, err := h.Storage.GetPendingGrant(ctx, pending.KindOTP, sig, req.GetSession())
	if errors.Is(err, pending.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.")
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	now := h.now()
	switch {
	case g.ClientID() != client.GetID():
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.").
			WithDebugf("The challenge was issued to client %q, not %q.", g.ClientID(), client.GetID())
	case g.State == pending.StateConsumed:
		h.revoke(ctx, g)
		return fosite.ErrInvalidGrant.WithHint("The code has already been used.").WithWrap(pending.ErrReplayed)
	case g.Expired(now):
		return pending.ErrExpiredToken
	case g.State == pending.StateDenied:
		return errLockedOut
	}

	// Count the attempt before comparing, so that concurrent guesses cannot exceed the limit.
	max := h.Config.GetOTPMaxAttempts(ctx)
	n, err := h.Storage.IncrementAttempts(ctx, "otp-guess|"+sig, now, h.Config.GetOTPLifespan(ctx))
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
		return fosite.ErrInvalidGrant.WithHintf("The code is wrong. %d attempts are left.", max-n)
	}

	if g.State == pending.StatePending {
		channel := ChannelType("")
		if id := g.Extra[extraChannel]; id != "" {
			if i := strings.IndexByte(id, '-'); i > 0 {
				channel = ChannelType(id[:i])
			}
		}
		sess, err := h.NewSession(ctx, SessionInfo{Subject: g.Subject, Client: client, Channel: channel, AuthTime: now})
		if err != nil {
			return rfc6749.ServerError(err)
		}
		d := pending.Decision{
			Approved: true, Subject: g.Subject, Session: sess,
			GrantedScopes: g.Request.GetRequestedScopes(), GrantedAudience: g.Request.GetRequestedAudience(),
		}
		if err := h.Storage.DecidePendingGrant(ctx, pending.KindOTP, sig, d, now); errors.Is(err, pending.ErrStateChanged) {
			return fosite.ErrInvalidGrant.WithHint("The challenge changed while the code was checked. Try again.")
		} else if err != nil {
			return rfc6749.ServerError(err)
		}
		g.Request.SetSession(sess)
		for _, s := range d.GrantedScopes {
			g.Request.GrantScope(s)
		}
		for _, a := range d.GrantedAudience {
			g.Request.GrantAudience(a)
		}
	}
	// StateApproved: the right code was presented before but the tokens were not issued (a signing or
	// storage failure); the right code again may collect them.
	h.Issuer.Prepare(ctx, g, grantType, req)
	return nil
}

// codeMatches compares the typed code with the stored hash in constant time. A decoy challenge, and one
// that no code was sent for, never matches, after the same work.
func (h *TokenHandler) codeMatches(ctx context.Context, g *pending.Grant, typed string) bool {
	code, ok := NormalizeCode(typed)
	if !ok || len(code) != h.Config.GetOTPCodeLength(ctx) {
		code = "-" // hash something anyway; it cannot match a stored code
	}
	sig, err := codeSignature(ctx, h.Codes, g.HandleSignature, code)
	if err != nil {
		return false
	}
	match := subtle.ConstantTimeCompare([]byte(sig), []byte(g.UserCodeSignature)) == 1
	return match && ok && g.UserCodeSignature != "" && g.Extra[extraDecoy] != "1"
}

func (h *TokenHandler) lockOut(ctx context.Context, g *pending.Grant, now time.Time, attempts int) {
	err := h.Storage.DecidePendingGrant(ctx, pending.KindOTP, g.HandleSignature, pending.Decision{Approved: false, Subject: g.Subject, Actor: "otp-lockout"}, now)
	if err != nil && !errors.Is(err, pending.ErrStateChanged) {
		h.log(ctx, slog.LevelError, "otp lockout not stored", slog.String("error", err.Error()))
		return
	}
	if errors.Is(err, pending.ErrStateChanged) {
		return // another request locked it out (or redeemed it) first
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
	sig, err := h.Codes.HandleSignature(ctx, req.GetRequestForm().Get("oob_code"))
	if err != nil {
		return err
	}
	err = h.Issuer.Issue(ctx, pending.KindOTP, sig, h.Config.GetOTPGrantType(ctx), req, resp)
	if errors.Is(err, pending.ErrReplayed) {
		if g, gerr := h.Storage.GetPendingGrant(ctx, pending.KindOTP, sig, req.GetSession()); gerr == nil {
			h.revoke(ctx, g)
		}
		return err
	}
	if err != nil {
		return err
	}
	h.record(ctx, audit.Event{Type: audit.EventRedeemed, Grant: audit.GrantOTP, Subject: req.GetSession().GetSubject(),
		ClientID: req.GetClient().GetID(), RequestID: req.GetID(), Time: h.now(),
		Data: map[string]any{"scope": []string(req.GetGrantedScopes())}})
	return nil
}

func (h *TokenHandler) revoke(ctx context.Context, g *pending.Grant) {
	err := pending.RevokeReplayed(ctx, h.Storage, g)
	attrs := []slog.Attr{slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID())}
	if err != nil {
		attrs = append(attrs, slog.String("revocation_error", err.Error()))
	}
	h.record(ctx, audit.Event{Type: audit.EventReplayed, Grant: audit.GrantOTP, Subject: g.Subject, ClientID: g.ClientID(),
		RequestID: g.Request.GetID(), Time: h.now()})
	h.log(ctx, slog.LevelWarn, "otp challenge replayed; tokens it issued are revoked", attrs...)
}

// GrantTypes lists the grant type this handler serves, for discovery.
func (h *TokenHandler) GrantTypes() []fosite.GrantType {
	return []fosite.GrantType{h.Config.GetOTPGrantType(context.Background())}
}

func (h *TokenHandler) record(ctx context.Context, ev audit.Event) {
	if h.Audit == nil {
		return
	}
	if err := h.Audit.Record(ctx, ev); err != nil {
		h.log(ctx, slog.LevelError, "audit event not recorded", slog.String("type", ev.Type), slog.String("error", err.Error()))
	}
}

func (h *TokenHandler) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if h.Logger != nil {
		h.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
