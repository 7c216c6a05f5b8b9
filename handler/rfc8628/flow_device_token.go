package rfc8628

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
)

// TokenStorage is what the device token handler needs of the store.
type TokenStorage interface {
	pending.TokenStorage
	oauth2.TokenRevocationStorage
}

// TokenHandler is fosite's token endpoint handler for the device access token request (RFC 8628 §3.4–3.5).
// Register it with compose (see the compose package) and fosite's token endpoint serves the grant.
type TokenHandler struct {
	Storage TokenStorage
	Codes   *pending.Codes
	Issuer  *pending.TokenIssuer
	Config  interface {
		DevicePollingIntervalProvider
	}
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives replays and storage failures; nil discards. Pending polls are not logged.
	Logger *slog.Logger
	// Audit receives an event for every redemption, every replay revocation, and the first poll that
	// finds a grant expired (once per grant when the store implements pending.DeactivationStorage);
	// nil records none. A failure to record is logged: the client's answer does not change.
	Audit audit.Sink
}

var _ fosite.TokenEndpointHandler = (*TokenHandler)(nil)

func (h *TokenHandler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

// CanHandleTokenEndpointRequest reports whether the request uses the device_code grant type.
func (h *TokenHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne(string(GrantType))
}

// CanSkipClientAuth is false: "if the client is ... issued client credentials ... the client MUST
// authenticate" (RFC 8628 §3.4); a public client identifies itself with client_id, which fosite accepts.
func (h *TokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// poller is the shared poll-and-redeem step, set up with this handler's parts.
func (h *TokenHandler) poller() *pending.Poller {
	return &pending.Poller{
		Kind: pending.KindDeviceCode, Param: "device_code", Storage: h.Storage, Codes: h.Codes, Issuer: h.Issuer,
		SlowDownStep: SlowDownStep, Now: h.Now, Logger: h.Logger, Replayed: h.replayed,
	}
}

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
	g, now, err := h.poller().Poll(ctx, req, nil)
	switch {
	case err == nil:
		h.Issuer.Prepare(ctx, g, GrantType, req)
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
	err := h.poller().Redeem(ctx, GrantType, req, resp)
	if err == nil {
		h.audit(ctx, audit.Event{
			Type: audit.EventRedeemed, Subject: req.GetSession().GetSubject(), ClientID: req.GetClient().GetID(),
			RequestID: req.GetID(), Time: h.now(), Data: map[string]any{"scopes": strings.Join(req.GetGrantedScopes(), " ")},
		})
	}
	return err
}

// replayed audits the revocation a replayed device code caused.
func (h *TokenHandler) replayed(ctx context.Context, g *pending.Grant, revocationErr error) {
	if revocationErr == nil {
		h.audit(ctx, audit.Event{
			Type: audit.EventRevoked, Subject: g.Subject, ClientID: g.ClientID(), RequestID: g.Request.GetID(),
			Time: h.now(), Data: map[string]any{"reason": "replayed"},
		})
	}
}

// auditExpired records that a poll found g expired, once per grant when the store can remember it.
func (h *TokenHandler) auditExpired(ctx context.Context, g *pending.Grant, now time.Time) {
	if h.Audit == nil || (g.State != pending.StatePending && g.State != pending.StateApproved) {
		return // a denial was audited when it was made
	}
	if ok, err := expiryOnce(ctx, h.Storage, g, now); err != nil {
		h.logAuditError(ctx, err)
		return
	} else if !ok {
		return
	}
	h.audit(ctx, expiredEvent(g, "poll"))
}

// expiryOnce reports whether g's expiry is still to be audited, and marks it audited.
func expiryOnce(ctx context.Context, store interface{}, g *pending.Grant, now time.Time) (bool, error) {
	ds, ok := store.(pending.DeactivationStorage)
	if !ok {
		return true, nil
	}
	// Remember long after the row itself is purged.
	err := ds.UseOnce(ctx, "device-expired|"+g.Request.GetID(), g.ExpiresAt.Add(90*24*time.Hour), now)
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

func (h *TokenHandler) audit(ctx context.Context, e audit.Event) {
	if err := auditRecord(ctx, h.Audit, e); err != nil {
		h.logAuditError(ctx, err)
	}
}

func (h *TokenHandler) logAuditError(ctx context.Context, err error) {
	if h.Logger != nil {
		h.Logger.LogAttrs(ctx, slog.LevelError, "device grant audit event not recorded", slog.String("error", fosite.ErrorToRFC6749Error(err).DebugField))
	}
}

// AuditExpired records an expiry event for every device grant that expired unused after after and by
// now and whose expiry no poll has recorded yet. Run it before a purge deletes expired rows (e.g.
// before sqlstore.Store.Purge), with after = the previous run's now (or now minus the store's
// retention). It returns how many events it recorded.
func AuditExpired(ctx context.Context, store pending.ListingStorage, sink audit.Sink, after, now time.Time) (int, error) {
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

func auditExpiredPage(ctx context.Context, store pending.ListingStorage, sink audit.Sink, gs []*pending.Grant, now time.Time) (int, error) {
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

// GrantTypes lists the grant type this handler serves, for discovery.
func (h *TokenHandler) GrantTypes() []fosite.GrantType { return []fosite.GrantType{GrantType} }
