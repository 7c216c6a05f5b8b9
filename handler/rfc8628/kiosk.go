package rfc8628

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// StaffDirectory says who may act at a kiosk. The application owns it (a role in its user directory).
type StaffDirectory interface {
	// IsStaff reports whether actor (a signed-in subject) may list and decide requests for others.
	IsStaff(ctx context.Context, actor string) (bool, error)
}

// Accounts maps the account identifier a device sent (login_hint) to the subject its grant is bound to.
type Accounts interface {
	// ResolveAccount returns the subject of the account named by loginHint, or ErrUnknownAccount.
	ResolveAccount(ctx context.Context, loginHint string) (subject string, err error)
}

// Errors of the kiosk API. They change nothing.
var (
	// ErrNotStaff: the actor is not kiosk staff (403).
	ErrNotStaff = pending.NewError("access_denied", "Only kiosk staff may list and decide device requests for others.", http.StatusForbidden)
	// ErrUnknownAccount: no account has that identifier. Accounts implementations return it; the kiosk
	// API answers invalid_request (400) wrapping it, so test with errors.Is.
	ErrUnknownAccount = errors.New("rfc8628: no account has that identifier")
)

func unknownAccount(hint string) error {
	return fosite.ErrInvalidRequest.WithHint(hint).WithWrap(ErrUnknownAccount)
}

// Proofing says how the person a grant is for was identified when someone else approved it: a staff
// member at a kiosk checked an identity document, for example. Method is a short token such as
// "id_document" or "passport"; Reference is the staff member's note of which document (e.g. the last
// digits of its number). Neither is a secret, but Reference is personal data: it is written to the
// audit log only, never into tokens.
type Proofing struct {
	Method    string
	Reference string
}

// Kiosk is the staff API of the staffed-kiosk deployment (IETF OAuth list, "device flow at a staffed
// kiosk"): the device sends the person's account identifier as login_hint; at a trusted kiosk a staff
// member lists the pending requests of that account, checks the person's identity document and the
// user code the person reads off the device, and approves. The grant is bound to the proofed person's
// subject (from Accounts), never to the staff member's; the staff member is the actor.
//
// The user code is stored only as a keyed hash, so the listing cannot show it. It shows everything
// else (client, scopes, device, age); to approve, the staff member types the code the person reads
// out, and it is checked like any user code (attempt-limited, counted per staff member) and must
// belong to a pending request of that very account. Denying needs no code: staff may refuse a request
// they see in the listing.
//
// Get one from New with Options.Kiosk (Grant.Kiosk).
type Kiosk struct {
	Verifier *Verifier
	Staff    StaffDirectory
	Accounts Accounts
	// NewSession makes the session tokens are issued with for a subject, when a decision carries none
	// (for ID tokens, an openid.Session whose claims carry the subject).
	NewSession func(ctx context.Context, subject string) fosite.Session
}

// KioskRequest is one pending request as the kiosk listing shows it: everything but the user code.
type KioskRequest struct {
	RequestID         string
	Client            fosite.Client
	RequestedScopes   fosite.Arguments
	RequestedAudience fosite.Arguments
	// LoginHint is the account identifier as the device sent it; Account the subject it names.
	LoginHint    string
	Account      string
	Device       pending.DeviceInfo
	DeviceSerial string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	// Age is how long the request has been waiting.
	Age time.Duration
}

// KioskDecision is a staff member's decision on an account's request.
type KioskDecision struct {
	// Actor is the signed-in staff member. Required.
	Actor string
	// LoginHint is the account the staff member looked up, in any form the directory resolves. Required.
	LoginHint string
	// RequestID, when set, must be the request the code belongs to (the row the staff member chose).
	// Required to deny.
	RequestID string
	// UserCode is the code the person reads off their device. Required to approve.
	UserCode string
	// Proofing is how the staff member identified the person. Method is required to approve.
	Proofing Proofing
	// Session is the session tokens are issued with, for the account's subject (see Verifier.Approve).
	// Kiosk adds the actor and proofing method to its ID token claims.
	Session fosite.Session
	// GrantedScopes, when not nil, narrows what is granted.
	GrantedScopes []string
	// RemoteAddr is the kiosk's address, for the audit log.
	RemoteAddr string
}

// checkStaff refuses an actor who is not staff.
func (k *Kiosk) checkStaff(ctx context.Context, actor string) error {
	if actor == "" {
		return ErrNotStaff.WithHint("No staff member is signed in.")
	}
	ok, err := k.Staff.IsStaff(ctx, actor)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	if !ok {
		return ErrNotStaff
	}
	return nil
}

func (k *Kiosk) resolve(ctx context.Context, loginHint string) (string, error) {
	if strings.TrimSpace(loginHint) == "" {
		return "", unknownAccount("Enter the account identifier.")
	}
	subject, err := k.Accounts.ResolveAccount(ctx, loginHint)
	if errors.Is(err, ErrUnknownAccount) || (err == nil && subject == "") {
		return "", unknownAccount("No account has that identifier.")
	} else if err != nil {
		return "", rfc6749.ServerError(err)
	}
	return subject, nil
}

func (k *Kiosk) listing() (KioskStorage, error) {
	if k.Verifier.kiosk == nil {
		return nil, rfc6749.ServerError(errNoKioskStorage)
	}
	return k.Verifier.kiosk, nil
}

// Pending lists the pending requests of the account loginHint names, oldest first: every request whose
// device named that account, in whichever way the directory (Accounts) resolves to it ("alice",
// "alice@example.com", "Alice@Example.com"). Errors: ErrNotStaff, ErrUnknownAccount, server_error.
func (k *Kiosk) Pending(ctx context.Context, actor, loginHint string) ([]KioskRequest, error) {
	if err := k.checkStaff(ctx, actor); err != nil {
		return nil, err
	}
	subject, err := k.resolve(ctx, loginHint)
	if err != nil {
		return nil, err
	}
	ls, err := k.listing()
	if err != nil {
		return nil, err
	}
	now := clock.Now(k.Verifier.options.Now)
	gs, err := ls.ListPendingGrantsByLoginHint(ctx, pending.KindDeviceCode, subject, now)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if loginHint != subject {
		// Requests stored under the hint as typed: before hints were resolved, or while the directory
		// did not know it.
		more, err := ls.ListPendingGrantsByLoginHint(ctx, pending.KindDeviceCode, loginHint, now)
		if err != nil {
			return nil, rfc6749.ServerError(err)
		}
		gs = mergeByCreation(gs, more)
	}
	out := make([]KioskRequest, 0, len(gs))
	for _, g := range gs {
		out = append(out, KioskRequest{
			RequestID: g.Request.GetID(), Client: g.Request.GetClient(),
			RequestedScopes: g.Request.GetRequestedScopes(), RequestedAudience: g.Request.GetRequestedAudience(),
			LoginHint: sentLoginHint(g), Account: subject, Device: g.Device, DeviceSerial: g.Extra[ExtraDeviceSerial],
			CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, Age: now.Sub(g.CreatedAt),
		})
	}
	return out, nil
}

// Approve approves the account's request whose user code the person read out, for the account's
// subject, with d.Actor as the actor, and audits it with the proofing method and reference. Errors:
// ErrNotStaff, ErrUnknownAccount, ErrInvalidUserCode (wrong code, or a code of another account or
// request), pending.ErrTooManyAttempts, invalid_request, server_error; none changes anything.
func (k *Kiosk) Approve(ctx context.Context, d KioskDecision) (*Authorization, error) {
	if err := k.checkStaff(ctx, d.Actor); err != nil {
		return nil, err
	}
	subject, err := k.resolve(ctx, d.LoginHint)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(d.Proofing.Method) == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("Say how the person was identified (the proofing method).")
	}
	if d.Session == nil && k.NewSession != nil {
		d.Session = k.NewSession(ctx, subject)
	}
	if d.Session == nil {
		return nil, fosite.ErrServerError.WithDebug("Kiosk.Approve needs a session to issue tokens with (KioskDecision.Session or Kiosk.NewSession).")
	}
	v := k.Verifier
	// Count wrong codes per staff member: the kiosk's address is shared by everyone working there.
	who := pending.Caller{Address: d.RemoteAddr, Account: "kiosk|" + d.Actor}
	g, err := v.lifecycle.LookupUserCode(ctx, d.UserCode, who)
	if err != nil {
		return nil, err
	}
	if !ofAccount(g, subject, d.LoginHint) || (d.RequestID != "" && g.Request.GetID() != d.RequestID) {
		// A live code of another account: as wrong as a mistyped one, and counted the same.
		if err := v.lifecycle.Limiter.Fail(ctx, who, clock.Now(v.options.Now)); err != nil {
			return nil, err
		}
		return nil, ErrInvalidUserCode.WithHint("The code does not belong to a pending request of this account.")
	}
	if s, ok := d.Session.(openid.Session); ok && s.IDTokenClaims() != nil {
		c := s.IDTokenClaims()
		if c.Extra == nil {
			c.Extra = map[string]interface{}{}
		}
		// RFC 8693 §4.1 "act": who acted for the subject; the proofing method without the reference,
		// which is personal data and stays in the audit log.
		c.Extra["act"] = map[string]interface{}{"sub": d.Actor}
		c.Extra["proofing_method"] = d.Proofing.Method
	}
	a := v.authorization(g, d.UserCode)
	dec := pending.Decision{Subject: subject, Actor: d.Actor, Session: d.Session, GrantedScopes: d.GrantedScopes}
	data := map[string]any{"method": "kiosk", "proofing": d.Proofing.Method}
	if d.Proofing.Reference != "" {
		data["proofing_reference"] = d.Proofing.Reference
	}
	if err := v.approve(ctx, a, dec, d.RemoteAddr, data, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// Deny denies the account's request d.RequestID (no code needed: staff see it in the listing), with
// the account's subject as subject and d.Actor as actor, and audits it. Errors: ErrNotStaff,
// ErrUnknownAccount, ErrInvalidUserCode (no such pending request for this account), server_error.
func (k *Kiosk) Deny(ctx context.Context, d KioskDecision) (*Authorization, error) {
	if err := k.checkStaff(ctx, d.Actor); err != nil {
		return nil, err
	}
	subject, err := k.resolve(ctx, d.LoginHint)
	if err != nil {
		return nil, err
	}
	ls, err := k.listing()
	if err != nil {
		return nil, err
	}
	if d.RequestID == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("Choose the request to deny.")
	}
	g, err := ls.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, d.RequestID)
	if errors.Is(err, pending.ErrNotFound) || (err == nil && (!ofAccount(g, subject, d.LoginHint) || g.State != pending.StatePending || g.Expired(clock.Now(k.Verifier.options.Now)))) {
		return nil, ErrInvalidUserCode.WithHint("This account has no such pending request.")
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	a := k.Verifier.authorization(g, "")
	data := map[string]any{"method": "kiosk"}
	if d.Proofing.Method != "" {
		data["proofing"] = d.Proofing.Method
	}
	if err := k.Verifier.deny(ctx, a, subject, d.Actor, d.RemoteAddr, data); err != nil {
		return nil, err
	}
	return a, nil
}
