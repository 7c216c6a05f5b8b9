package rfc8628

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
)

// TokenHandler is fosite's token endpoint handler for the device access token request (RFC 8628
// §3.4–3.5). It is part of a Grant (see New); register the Grant with fosite and fosite's token
// endpoint serves the grant.
type TokenHandler struct {
	lifecycle *pending.Lifecycle
	kiosk     KioskStorage
	audit     audit.Sink
	logger    *slog.Logger
}

var _ fosite.TokenEndpointHandler = (*TokenHandler)(nil)

// CanHandleTokenEndpointRequest reports whether the request uses the device_code grant type.
func (h *TokenHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne(string(GrantType))
}

// CanSkipClientAuth is false: "if the client is ... issued client credentials ... the client MUST
// authenticate" (RFC 8628 §3.4); a public client identifies itself with client_id, which fosite accepts.
func (h *TokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest answers a poll (RFC 8628 §3.5): authorization_pending, slow_down,
// access_denied, expired_token or invalid_grant; or, for an approved grant, prepares the request so that
// PopulateTokenEndpointResponse issues the tokens.
func (h *TokenHandler) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	if !req.GetClient().GetGrantTypes().Has(string(GrantType)) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", GrantType)
	}
	g, now, err := h.lifecycle.Poll(ctx, req, nil)
	switch {
	case err == nil:
		h.lifecycle.Prepare(ctx, g, GrantType, req)
	case errors.Is(err, pending.ErrExpiredToken):
		h.auditExpired(ctx, g, now)
	}
	return err
}

// PopulateTokenEndpointResponse consumes the approved grant and issues its tokens in one step.
func (h *TokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	err := h.lifecycle.Redeem(ctx, GrantType, req, resp)
	if err == nil {
		h.record(ctx, audit.Event{
			Type: audit.EventRedeemed, Subject: req.GetSession().GetSubject(), ClientID: req.GetClient().GetID(),
			RequestID: req.GetID(), Time: clock.Now(h.lifecycle.Now), Data: map[string]any{"scopes": strings.Join(req.GetGrantedScopes(), " ")},
		})
	}
	return err
}

// GrantTypes lists the grant type this handler serves, for discovery.
func (h *TokenHandler) GrantTypes() []fosite.GrantType { return []fosite.GrantType{GrantType} }

// replayed audits the revocation a replayed device code caused, or tried (pending.ReplayEvent).
func (h *TokenHandler) replayed(ctx context.Context, g *pending.Grant, revocationErr error) {
	h.record(ctx, pending.ReplayEvent(g, revocationErr, clock.Now(h.lifecycle.Now)))
}

// auditExpired records that a poll found g expired, once per grant when the store can remember it.
func (h *TokenHandler) auditExpired(ctx context.Context, g *pending.Grant, now time.Time) {
	if h.audit == nil || (g.State != pending.StatePending && g.State != pending.StateApproved) {
		return // a denial was audited when it was made
	}
	if ok, err := expiryOnce(ctx, h.kiosk, g, now); err != nil {
		h.logAuditError(ctx, err)
		return
	} else if !ok {
		return
	}
	h.record(ctx, expiredEvent(g, "poll"))
}

// expiryOnce reports whether g's expiry is still to be audited, and marks it audited.
func expiryOnce(ctx context.Context, store pending.IndexStorage, g *pending.Grant, now time.Time) (bool, error) {
	if store == nil {
		return true, nil
	}
	// Remember long after the row itself is purged.
	err := store.UseOnce(ctx, "device-expired|"+g.Request.GetID(), g.ExpiresAt.Add(90*24*time.Hour), now)
	if errors.Is(err, pending.ErrStateChanged) {
		return false, nil
	}
	return err == nil, err
}

func expiredEvent(g *pending.Grant, observedBy string) audit.Event {
	return audit.Event{
		Type: audit.EventExpired, Subject: g.Subject, ClientID: g.ClientID(), RequestID: g.Request.GetID(), Time: g.ExpiresAt,
		Data: map[string]any{"state": string(g.State), "observed_by": observedBy},
	}
}

func (h *TokenHandler) record(ctx context.Context, e audit.Event) {
	if err := auditRecord(ctx, h.audit, e); err != nil {
		h.logAuditError(ctx, err)
	}
}

func (h *TokenHandler) logAuditError(ctx context.Context, err error) {
	if h.logger != nil {
		h.logger.LogAttrs(ctx, slog.LevelError, "device grant audit event not recorded", slog.String("error", fosite.ErrorToRFC6749Error(err).DebugField))
	}
}

// AuditExpired records an expiry event for every device grant that expired unused after after and by
// now and whose expiry no poll has recorded yet. Run it before a purge deletes expired rows (e.g.
// before sqlstore.Store.Purge), with after = the previous run's now (or now minus the store's
// retention). It returns how many events it recorded.
func AuditExpired(ctx context.Context, store KioskStorage, sink audit.Sink, after, now time.Time) (int, error) {
	if sink == nil {
		return 0, nil
	}
	const page = 500
	n := 0
	for {
		gs, err := store.ListExpiredGrants(ctx, pending.KindDeviceCode, after, now, page)
		if err != nil {
			return n, err
		}
		k, err := auditExpiredPage(ctx, store, sink, gs, now)
		n += k
		if err != nil || len(gs) < page {
			return n, err
		}
		after = gs[len(gs)-1].ExpiresAt
	}
}

func auditExpiredPage(ctx context.Context, store KioskStorage, sink audit.Sink, gs []*pending.Grant, now time.Time) (int, error) {
	n := 0
	for _, g := range gs {
		ok, err := expiryOnce(ctx, store, g, now)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		if err := auditRecord(ctx, sink, expiredEvent(g, "purge")); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
