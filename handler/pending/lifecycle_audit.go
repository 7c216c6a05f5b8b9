package pending

import (
	"context"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/internal/clock"
)

// This file is the audit trail of a grant (seed 001: "an audit trail of every decision"), for the grants
// that leave it to the lifecycle (Lifecycle.AuditTrail: CIBA). The device grant records its own, with
// the kiosk's proofing and the alert's details, and so does the OTP grant; both leave AuditTrail off.
//
// Every event goes to Lifecycle.Audit after the change it reports has committed, under the grant's
// request ID (the SET "txn", so one grant's events are found together): the request (audit.
// EventRequested: the requested scopes and the client's address; no subject while the user is not
// known, as for a CIBA enrolment fallback), an approval or denial (audit.EventApproved, audit.
// EventDenied, with who decided when it was not the user, from where and, for an approval, the scopes
// granted), a redemption (audit.EventRedeemed, the scopes of the tokens), and the revocation a replay
// causes (audit.EventRevoked, reason "replayed"). Nothing secret is recorded: no handle, no user code,
// no hint. A failure to record is logged; the change stands.

// auditRequested records that g, a new grant, was stored.
func (l *Lifecycle) auditRequested(ctx context.Context, g *Grant) {
	if !l.AuditTrail {
		return
	}
	data := map[string]any{"scopes": strings.Join(g.Request.GetRequestedScopes(), " ")}
	if g.Device.RemoteAddr != "" {
		data["requested_from"] = g.Device.RemoteAddr
	}
	l.audit(ctx, audit.Event{Type: audit.EventRequested, Subject: g.Subject, ClientID: g.ClientID(), RequestID: g.Request.GetID(),
		Time: clock.Now(l.Now), Data: data})
}

// auditDecision records d, just made on g.
func (l *Lifecycle) auditDecision(ctx context.Context, g *Grant, d *Decision) {
	if !l.AuditTrail {
		return
	}
	e := audit.Event{Type: audit.EventDenied, Subject: d.Subject, Actor: d.Actor, ClientID: g.ClientID(),
		RequestID: g.Request.GetID(), Time: clock.Now(l.Now), Data: map[string]any{}}
	if d.Approved {
		e.Type = audit.EventApproved
		e.Data["scopes"] = strings.Join(d.GrantedScopes, " ")
	}
	if d.From != "" {
		e.Data["decided_from"] = d.From
	}
	if g.Device.RemoteAddr != "" {
		e.Data["requested_from"] = g.Device.RemoteAddr
	}
	l.audit(ctx, e)
}

// auditRedeemed records that the tokens of a redemption were issued.
func (l *Lifecycle) auditRedeemed(ctx context.Context, req fosite.AccessRequester) {
	if !l.AuditTrail {
		return
	}
	subject := ""
	if s := req.GetSession(); s != nil {
		subject = s.GetSubject()
	}
	l.audit(ctx, audit.Event{Type: audit.EventRedeemed, Subject: subject, ClientID: req.GetClient().GetID(),
		RequestID: req.GetID(), Time: clock.Now(l.Now), Data: map[string]any{"scopes": strings.Join(req.GetGrantedScopes(), " ")}})
}

// Delivered records, for a grant whose tokens leave with its approval rather than through Redeem (a
// CIBA push, CIBA Core §10.3), that they were issued: audit.EventRedeemed with the granted scopes and
// "delivery": how. Call it after the approval has committed. It records nothing unless AuditTrail.
func (l *Lifecycle) Delivered(ctx context.Context, g *Grant, d *Decision, how string) {
	if !l.AuditTrail {
		return
	}
	l.audit(ctx, audit.Event{Type: audit.EventRedeemed, Subject: d.Subject, ClientID: g.ClientID(), RequestID: g.Request.GetID(),
		Time: clock.Now(l.Now), Data: map[string]any{"scopes": strings.Join(d.GrantedScopes, " "), "delivery": how}})
}

// auditReplay records the revocation a replay of g caused (revocationErr nil) or tried.
func (l *Lifecycle) auditReplay(ctx context.Context, g *Grant, revocationErr error) {
	if !l.AuditTrail {
		return
	}
	l.audit(ctx, ReplayEvent(g, revocationErr, clock.Now(l.Now)))
}

// ReplayEvent is the audit event of a replay of g — a redeemed grant presented again — at now: the
// revocation of what g issued (audit.EventRevoked, reason "replayed", under g's request ID), with
// "revocation_failed" when revoking failed (revocationErr). Every grant records its replays with it, so
// that one query finds them all, whichever grant and whether or not the revocation went through.
func ReplayEvent(g *Grant, revocationErr error, now time.Time) audit.Event {
	data := map[string]any{"reason": "replayed"}
	if revocationErr != nil {
		data["revocation_failed"] = true
	}
	return audit.Event{Type: audit.EventRevoked, Grant: auditGrant(g.Kind), Subject: g.Subject, ClientID: g.ClientID(),
		RequestID: g.Request.GetID(), Time: now, Data: data}
}
