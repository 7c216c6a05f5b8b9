package rfc8628

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// ErrInvalidUserCode answers a user code that matches no live request: pending.ErrInvalidUserCode.
// Wrong, expired and already decided codes all get it, so the answer tells a guesser nothing.
var ErrInvalidUserCode = pending.ErrInvalidUserCode

// Authorization is a pending device request as the user sees it on the verification page (RFC 8628 §3.3):
// who asks, for what, from where.
type Authorization struct {
	// UserCode is the code, as displayed on the device.
	UserCode          string
	Client            fosite.Client
	RequestedScopes   fosite.Arguments
	RequestedAudience fosite.Arguments
	// LoginHint is the account identifier the device sent, if any.
	LoginHint string
	Device    pending.DeviceInfo
	CreatedAt time.Time
	ExpiresAt time.Time
	// RequestID identifies the request in logs and audit events. It is not a secret.
	RequestID string
	// DeviceSerial is the serial of a device with a pre-printed code, if it sent one.
	DeviceSerial string
	// GrantedScopes is what an approval granted; nil before one.
	GrantedScopes fosite.Arguments
	// Proximity compares where the request came from with where the person looking it up is (RFC
	// 10027 §6.1.3, establish proximity): show it on the page, and say so when they differ.
	Proximity pending.Proximity
	// RecentApprovals are the earlier approvals of the same client by the same user within the repeat
	// window, newest first; only LookupFor fills it. More than none deserves a warning: someone may
	// have phished one of those approvals (see the package guide).
	RecentApprovals []RecentApproval

	grant *pending.Grant
}

// RecentApproval is an earlier approval of a client by the user, for the repeat-approval warning.
type RecentApproval struct {
	RequestID string
	DecidedAt time.Time
	Device    pending.DeviceInfo
	// Redeemed is true when the device picked its tokens up.
	Redeemed bool
	// Active is false when the grant was deactivated or expired before it was picked up.
	Active bool
}

// Verifier is the user-code verification API (RFC 8628 §3.3): the verification page (or a staff tool, or
// a script) looks a request up by the code the user typed, shows it, and approves or denies it. Get
// one from New (Grant.Verifier).
//
// Every lookup that matches nothing counts as a failed guess by the caller (pending.Caller: per address
// when anonymous, per account when signed in; see pending.Limiter); once a limit is reached, lookups
// are refused whatever the code (§5.1), so the 20^8 code space cannot be searched.
type Verifier struct {
	lifecycle *pending.Lifecycle
	kiosk     KioskStorage
	alerter   *Alerter
	options   *Options
}

// Lookup finds the pending request with that user code. who is the person typing it, for the guessing
// limits. Errors: ErrInvalidUserCode, pending.ErrTooManyAttempts, server_error.
func (v *Verifier) Lookup(ctx context.Context, userCode string, who pending.Caller) (*Authorization, error) {
	g, err := v.lifecycle.LookupUserCode(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	a := v.authorization(g, userCode)
	a.Proximity = v.lifecycle.Proximity(ctx, g, who.Address)
	return a, nil
}

func (v *Verifier) authorization(g *pending.Grant, userCode string) *Authorization {
	display := ""
	if userCode != "" {
		format := v.lifecycle.Format()
		display = format.Display(format.Normalize(userCode))
	}
	return &Authorization{
		UserCode:          display,
		Client:            g.Request.GetClient(),
		RequestedScopes:   g.Request.GetRequestedScopes(),
		RequestedAudience: g.Request.GetRequestedAudience(),
		LoginHint:         sentLoginHint(g),
		Device:            g.Device,
		CreatedAt:         g.CreatedAt,
		ExpiresAt:         g.ExpiresAt,
		RequestID:         g.Request.GetID(),
		DeviceSerial:      g.Extra[ExtraDeviceSerial],
		grant:             g,
	}
}

// LookupFor is Lookup for a signed-in user (who.Account is their subject): it also fills
// RecentApprovals with their approvals of the same client within Options.RepeatApprovalWindow when
// the store implements KioskStorage.
func (v *Verifier) LookupFor(ctx context.Context, userCode string, who pending.Caller) (*Authorization, error) {
	a, err := v.Lookup(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	if a.RecentApprovals, err = v.RecentApprovals(ctx, who.Account, a.Client.GetID()); err != nil {
		return nil, err
	}
	return a, nil
}

// RecentApprovals returns subject's approvals of clientID within the repeat window, newest first (at
// most 20), or none when the store cannot list them.
func (v *Verifier) RecentApprovals(ctx context.Context, subject, clientID string) ([]RecentApproval, error) {
	if v.kiosk == nil || subject == "" {
		return nil, nil
	}
	now := clock.Now(v.options.Now)
	gs, err := v.kiosk.ListApprovedGrants(ctx, pending.KindDeviceCode, subject, clientID, now.Add(-v.options.RepeatApprovalWindow), 20)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	out := make([]RecentApproval, 0, len(gs))
	for _, g := range gs {
		out = append(out, RecentApproval{
			RequestID: g.Request.GetID(), DecidedAt: g.DecidedAt, Device: g.Device,
			Redeemed: g.State == pending.StateConsumed,
			Active:   g.State == pending.StateConsumed || !g.Expired(now),
		})
	}
	return out, nil
}

// Approve approves the request with that user code for the user in d (d.Approved is ignored). Unless
// d.GrantedScopes is set, everything the client requested is granted; a scope it did not request can
// not be granted. When openid is granted the session must be an openid.Session whose ID token claims
// carry the subject (see pending.ValidateApproval).
//
// When the client has a pickup window (Options.PickupWindow, DeviceLifespanClient) and d.ExpiresAt
// is zero, the device has that long from now to redeem. The approval is audited, and the user alerted
// when the grant has an Alerter.
func (v *Verifier) Approve(ctx context.Context, userCode string, who pending.Caller, d pending.Decision) (*Authorization, error) {
	a, err := v.Lookup(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	data := map[string]any{"method": "user_code"}
	al := v.alerter
	if al == nil {
		return a, v.approve(ctx, a, d, who.Address, data, nil)
	}
	now := clock.Now(v.options.Now)
	a.GrantedScopes = d.GrantedScopes
	if a.GrantedScopes == nil {
		a.GrantedScopes = a.RequestedScopes
	}
	m, send, err := al.Message(ctx, a, d.Subject, now)
	if err != nil {
		// Nothing is decided yet: a broken alert configuration must not let approvals go unnoticed.
		return nil, fosite.ErrServerError.WithWrap(err).WithDebugf("The approval alert could not be written, so nothing was approved: %s", err)
	}
	if send && al.Outbox != nil {
		// The alert is queued in the approval's transaction: both happen or neither does.
		enqueue := func(ctx context.Context) error { return al.enqueue(ctx, a, m) }
		if err := v.approve(ctx, a, d, who.Address, data, enqueue); err != nil {
			return nil, err
		}
		if al.Kick != nil {
			al.Kick()
		}
		return a, nil
	}
	if err := v.approve(ctx, a, d, who.Address, data, nil); err != nil {
		return nil, err
	}
	if send {
		if err := al.Sender.Send(ctx, m); err != nil {
			// The approval stands; the caller decides whether to tell the user the alert failed.
			return a, fosite.ErrServerError.WithHint("The device was approved, but the notification could not be sent.").
				WithWrap(fmt.Errorf("%w: %v", ErrAlertFailed, err)).WithDebug(err.Error())
		}
	}
	return a, nil
}

// ErrAlertFailed is wrapped in the server_error Approve returns, together with the Authorization, when
// the approval was recorded but the alert could not be sent. Callers may show the approval as done
// and log the error.
var ErrAlertFailed = errors.New("rfc8628: the approval alert could not be sent")

// approve records an approval (checked by the lifecycle), runs also (when not nil) in the same
// transaction when the store is transactional, and audits the approval after the commit.
func (v *Verifier) approve(ctx context.Context, a *Authorization, d pending.Decision, remoteAddr string, data map[string]any, also func(ctx context.Context) error) error {
	d.Approved = true
	if d.From == "" {
		d.From = remoteAddr
	}
	now := clock.Now(v.options.Now)
	if _, pickup := v.options.lifespans(a.Client); d.ExpiresAt.IsZero() && pickup > 0 {
		d.ExpiresAt = now.Add(pickup)
	}
	if err := v.lifecycle.Decide(ctx, a.grant, &d, also); err != nil {
		return err
	}
	a.GrantedScopes = d.GrantedScopes
	if !d.ExpiresAt.IsZero() {
		a.ExpiresAt = d.ExpiresAt
		data["pickup_until"] = d.ExpiresAt.Unix()
	}
	return v.record(ctx, audit.EventApproved, a, d.Subject, d.Actor, now, remoteAddr, data)
}

// Deny denies the request with that user code. subject (who denied) and actor may be empty.
func (v *Verifier) Deny(ctx context.Context, userCode string, who pending.Caller, subject, actor string) (*Authorization, error) {
	a, err := v.Lookup(ctx, userCode, who)
	if err != nil {
		return nil, err
	}
	return a, v.deny(ctx, a, subject, actor, who.Address, map[string]any{"method": "user_code"})
}

func (v *Verifier) deny(ctx context.Context, a *Authorization, subject, actor, remoteAddr string, data map[string]any) error {
	now := clock.Now(v.options.Now)
	if err := v.lifecycle.Decide(ctx, a.grant, &pending.Decision{Approved: false, Subject: subject, Actor: actor}, nil); err != nil {
		return err
	}
	return v.record(ctx, audit.EventDenied, a, subject, actor, now, remoteAddr, data)
}

// record writes an audit event about a, when an audit sink is set.
func (v *Verifier) record(ctx context.Context, typ string, a *Authorization, subject, actor string, at time.Time, remoteAddr string, data map[string]any) error {
	if v.options.Audit == nil {
		return nil
	}
	if data == nil {
		data = map[string]any{}
	}
	if remoteAddr != "" {
		data["decided_from"] = remoteAddr
	}
	data["device_address"] = a.Device.RemoteAddr
	if a.DeviceSerial != "" {
		data["device_serial"] = a.DeviceSerial
	}
	return auditRecord(ctx, v.options.Audit, audit.Event{
		Type: typ, Subject: subject, Actor: actor, ClientID: a.Client.GetID(), RequestID: a.RequestID, Time: at, Data: data,
	})
}

// auditRecord records e for the device grant; a failure is a server_error (the audited change is made
// already: see the package guide).
func auditRecord(ctx context.Context, sink audit.Sink, e audit.Event) error {
	if sink == nil {
		return nil
	}
	e.Grant = audit.GrantDeviceCode
	if err := sink.Record(ctx, e); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebugf("The change was made but its audit event was not recorded: %s", err)
	}
	return nil
}
