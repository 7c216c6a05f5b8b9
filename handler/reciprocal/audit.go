package reciprocal

import (
	"context"
	"log/slog"
	"strings"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/internal/clock"
)

// The audit trail of reciprocal grants (seed 001: "an audit trail of every decision"), when
// Options.Audit is set. Party A records the grant its user gave party B once party B accepted it
// (audit.EventApproved: the scopes, and the earlier grant it replaces), and each revocation of a grant's
// tokens (audit.EventRevoked: reason "revoked", or "replaced" by a scope update, draft §3). Party B
// records each code it redeemed at party A and kept the token of (audit.EventRedeemed). Every event is
// audit.GrantReciprocal, names the user and the client, and is recorded after the change it reports;
// nothing secret goes in (no code, no token). A failure to record is logged; the change stands.

// auditSent records, at party A, a grant party B accepted.
func (i *Issuer) auditSent(ctx context.Context, g *Offer, requestID string) {
	if i.Audit == nil {
		return
	}
	data := map[string]any{"scopes": strings.Join(g.Scopes, " ")}
	if g.Replaces != "" {
		data["replaces"] = g.Replaces
	}
	err := i.Audit.Record(ctx, audit.Event{Type: audit.EventApproved, Grant: audit.GrantReciprocal, Subject: g.Session.GetSubject(),
		ClientID: g.ClientID, RequestID: requestID, Time: clock.Now(i.Now), Data: data})
	if err != nil {
		i.log(ctx, slog.LevelError, "reciprocal grant not audited", g, slog.String("error", err.Error()))
	}
}

// auditRevoked records, at party A, that the tokens of the grant requestID were revoked.
func (i *Issuer) auditRevoked(ctx context.Context, requestID, reason string) {
	if i.Audit == nil {
		return
	}
	err := i.Audit.Record(ctx, audit.Event{Type: audit.EventRevoked, Grant: audit.GrantReciprocal, RequestID: requestID,
		Time: clock.Now(i.Now), Data: map[string]any{"reason": reason}})
	if err != nil && i.Logger != nil {
		i.Logger.LogAttrs(ctx, slog.LevelError, "reciprocal revocation not audited", slog.String("request_id", requestID), slog.String("error", err.Error()))
	}
}

// auditRedeemed records, at party B, that the code party A (clientID) sent for subject was redeemed and
// its token kept; requestID is the reciprocal token request's.
func (h *GrantHandler) auditRedeemed(ctx context.Context, clientID, subject, requestID, scope string) {
	if h.Audit == nil {
		return
	}
	err := h.Audit.Record(ctx, audit.Event{Type: audit.EventRedeemed, Grant: audit.GrantReciprocal, Subject: subject,
		ClientID: clientID, RequestID: requestID, Time: clock.Now(h.Now), Data: map[string]any{"scopes": scope}})
	if err != nil {
		h.log(ctx, slog.LevelError, "reciprocal grant not audited", clientID, slog.String("error", err.Error()))
	}
}
