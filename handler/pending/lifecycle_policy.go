package pending

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Initiation is a request to start a flow, as the policies judge it.
type Initiation struct {
	// Client is the authenticated client.
	Client fosite.Client
	// Address is the client's network address.
	Address string
	// Subject is the user the request names, when it names one (a CIBA hint, an OTP identifier
	// resolved to an account); empty otherwise.
	Subject string
}

// Admit decides whether a flow may start (Policy: trusted devices, trusted networks, rate limits), and
// counts it. Call it before Start and before anything reaches the user. Errors: ErrUntrustedClient,
// ErrUntrustedNetwork, ErrTooManyRequests, server_error. Every refusal is audited (a rate limit once
// per window and key, not per refused request, so that a flood does not flood the audit log).
func (l *Lifecycle) Admit(ctx context.Context, in Initiation) error {
	p := &l.Policy
	clientID := in.Client.GetID()
	if p.RequireKeyBoundClients && authMethodOf(in.Client) != "private_key_jwt" {
		l.auditPolicy(ctx, PolicyClient, clientID, "", in.Address, nil)
		return ErrUntrustedClient.WithDebugf("The client authenticates with %q.", authMethodOf(in.Client))
	}
	if nets, ok := p.Networks[clientID]; ok {
		addr, valid := addrOf(in.Address)
		trusted := false
		for _, n := range nets {
			if valid && n.Contains(addr) {
				trusted = true
				break
			}
		}
		if !trusted {
			l.auditPolicy(ctx, PolicyNetwork, clientID, "", in.Address, nil)
			return ErrUntrustedNetwork.WithDebugf("%s is not in the client's networks.", in.Address)
		}
	}
	now := clock.Now(l.Now)
	if err := l.checkOneOpen(ctx, in, now); err != nil {
		return err
	}
	lim := p.Initiation
	if lim.Window <= 0 {
		return nil
	}
	for _, c := range []struct {
		key, what, hint string
		limit           int
	}{
		{"client|" + clientID, "client", "This client has started too many requests lately.", lim.PerClient},
		{"address|" + in.Address, "address", "Too many requests came from this address lately.", lim.PerAddress},
		{"user|" + in.Subject, "user", "This user has been asked too often lately.", lim.PerUser},
	} {
		if c.limit <= 0 || (c.what == "user" && in.Subject == "") {
			continue
		}
		// Counted before it is compared, so that concurrent requests cannot pass the limit.
		n, err := l.Storage.(AttemptStorage).IncrementAttempts(ctx, "initiation|"+string(l.Kind)+"|"+c.key, now, lim.Window)
		if err != nil {
			return rfc6749.ServerError(err)
		}
		if n > c.limit {
			if n == c.limit+1 {
				subject := ""
				if c.what == "user" {
					subject = in.Subject
				}
				l.auditPolicy(ctx, PolicyRateLimit, clientID, subject, in.Address, map[string]any{"limit": c.what, "window_seconds": int64(lim.Window / time.Second)})
			}
			return ErrTooManyRequests.WithWrap(rfc6749.RetryAfter(lim.Window)).
				WithHintf("%s Try again in %s.", c.hint, minutes(lim.Window)).
				WithDebugf("%d requests per %s by this %s, limit %d.", n, lim.Window, c.what, c.limit)
		}
	}
	return nil
}

// checkOneOpen refuses a request while the same client's earlier one for the same user is pending
// (Policy.OneOpenRequest).
func (l *Lifecycle) checkOneOpen(ctx context.Context, in Initiation, now time.Time) error {
	if !l.Policy.OneOpenRequest || in.Subject == "" {
		return nil
	}
	o, err := l.openRequest(ctx, in.Client.GetID(), in.Subject, "", now)
	if err != nil || o == nil {
		return err
	}
	l.auditPolicy(ctx, PolicyOneOpen, o.ClientID(), in.Subject, in.Address, map[string]any{"open_request_id": o.Request.GetID()})
	return errOpenRequest(o, now)
}

// keepOneOpen looks again, once g is stored, for another open request of g's client for g's user
// (Policy.OneOpenRequest): Admit's check cannot see a request another instance, or another goroutine,
// stores at the same moment. When there is one, g is withdrawn — denied in the store before anyone
// learnt of it, its callback marked as sent so that no expiry is ever reported for it — and the answer
// is ErrOpenRequest. Of requests racing each other, each one stored before another's check is seen by
// it: at most one stays open (and, in the tightest race, none does; the client asks again).
func (l *Lifecycle) keepOneOpen(ctx context.Context, g *Grant) error {
	if !l.Policy.OneOpenRequest || g.Subject == "" {
		return nil
	}
	now := clock.Now(l.Now)
	o, err := l.openRequest(ctx, g.ClientID(), g.Subject, g.HandleSignature, now)
	if err != nil || o == nil {
		return err
	}
	err = l.Storage.DecidePendingGrant(ctx, l.Kind, g.HandleSignature, Decision{Subject: g.Subject}, now)
	if err != nil && !errors.Is(err, ErrStateChanged) {
		return rfc6749.ServerError(err)
	}
	if cb, ok := l.Storage.(CallbackStorage); ok && g.Callback != nil {
		if err := cb.MarkCallbackQueued(ctx, l.Kind, g.HandleSignature); err != nil && !errors.Is(err, ErrStateChanged) {
			return rfc6749.ServerError(err)
		}
	}
	l.auditPolicy(ctx, PolicyOneOpen, g.ClientID(), g.Subject, g.Device.RemoteAddr,
		map[string]any{"open_request_id": o.Request.GetID(), "withdrawn_request_id": g.Request.GetID()})
	return errOpenRequest(o, now)
}

// openRequest returns a pending request of clientID for subject other than the one whose handle
// signature is except, or nil.
func (l *Lifecycle) openRequest(ctx context.Context, clientID, subject, except string, now time.Time) (*Grant, error) {
	idx, ok := l.Storage.(IndexStorage)
	if !ok {
		return nil, fosite.ErrServerError.WithDebug("Policy.OneOpenRequest needs a store implementing pending.IndexStorage.")
	}
	open, err := idx.ListPendingGrantsBySubject(ctx, l.Kind, subject, now)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	for _, o := range open {
		if o.ClientID() == clientID && o.HandleSignature != except {
			return o, nil
		}
	}
	return nil, nil
}

// errOpenRequest is the answer to a request refused for the open request o.
func errOpenRequest(o *Grant, now time.Time) error {
	return ErrOpenRequest.WithWrap(rfc6749.RetryAfter(o.ExpiresAt.Sub(now))).
		WithHint("Wait until the user answers the earlier request or it expires.")
}

// CapLifespan returns want within the code lifetime ceiling of client (Policy: Ceiling.CodeLifespan),
// for a grant to compute its codes' expiry with.
func (l *Lifecycle) CapLifespan(client fosite.Client, want time.Duration) time.Duration {
	if client == nil {
		return want
	}
	if c := l.Policy.ceiling(client.GetID()).CodeLifespan; c > 0 && c < want {
		return c
	}
	return want
}

// CheckScopes refuses requested scopes beyond the ceiling of the client (Policy: limited scopes):
// invalid_scope, audited.
func (l *Lifecycle) CheckScopes(ctx context.Context, client fosite.Client, scopes []string) error {
	c := l.Policy.ceiling(client.GetID())
	if c.Scopes == nil {
		return nil
	}
	for _, s := range scopes {
		if !fosite.Arguments(c.Scopes).Has(s) {
			l.auditPolicy(ctx, PolicyScopes, client.GetID(), "", "", map[string]any{"scope": s})
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' may not be asked for through this flow.", s)
		}
	}
	return nil
}

// Proximity is what an approval page shows of where a request came from, beside where it is being
// approved (RFC 10027: establish proximity).
type Proximity struct {
	// Requester is the place of the address the request came from; Approver of the approver's.
	Requester, Approver Place
	// SameNetwork reports whether they look like one place (see SameNetwork).
	SameNetwork bool
}

// Proximity compares where g was requested from with the approver's address (Policy.Locator). A
// lookup that fails is logged and treated as unknown.
func (l *Lifecycle) Proximity(ctx context.Context, g *Grant, approver string) Proximity {
	ra, rok := addrOf(g.Device.RemoteAddr)
	aa, aok := addrOf(approver)
	var p Proximity
	if loc := l.Policy.Locator; loc != nil {
		var err error
		if rok {
			if p.Requester, err = loc.Locate(ctx, ra); err != nil {
				l.logPolicy(ctx, "locating the requester failed", err)
			}
		}
		if aok {
			if p.Approver, err = loc.Locate(ctx, aa); err != nil {
				l.logPolicy(ctx, "locating the approver failed", err)
			}
		}
	}
	p.SameNetwork = rok && aok && SameNetwork(ra, aa, p.Requester, p.Approver)
	return p
}

// checkProximity refuses an approval from another network when the policy says so.
func (l *Lifecycle) checkProximity(ctx context.Context, g *Grant, d *Decision) error {
	if !l.Policy.RefuseAcrossNetworks || !d.Approved || d.From == "" {
		return nil
	}
	if l.Proximity(ctx, g, d.From).SameNetwork {
		return nil
	}
	l.auditPolicy(ctx, PolicyAcrossNetworks, g.ClientID(), d.Subject, d.From, map[string]any{"request_id": g.Request.GetID(),
		"device_address": g.Device.RemoteAddr})
	return ErrAcrossNetworks.WithDebugf("Requested from %s, approved from %s.", g.Device.RemoteAddr, d.From)
}

// burn counts who.Account among the accounts that looked g's user code up and, past
// Policy.BurnAfterAccounts, flags g. It reports whether g is burned.
func (l *Lifecycle) burn(ctx context.Context, g *Grant, who Caller, now time.Time) (bool, error) {
	max := l.Policy.BurnAfterAccounts
	idx, ok := l.Storage.(IndexStorage)
	if max <= 0 || who.Account == "" || !ok {
		return false, nil
	}
	key := "lookup|" + string(l.Kind) + "|" + g.HandleSignature
	err := idx.UseOnce(ctx, key+"|"+who.Account, g.ExpiresAt, now)
	if errors.Is(err, ErrStateChanged) {
		return false, nil // this account looked before: not another one
	} else if err != nil {
		return false, rfc6749.ServerError(err)
	}
	n, err := l.Storage.(AttemptStorage).IncrementAttempts(ctx, key, now, g.ExpiresAt.Sub(g.CreatedAt)+time.Minute)
	if err != nil {
		return false, rfc6749.ServerError(err)
	}
	if n <= max {
		return false, nil
	}
	l.auditPolicy(ctx, PolicyBurnedCode, g.ClientID(), "", who.Address, map[string]any{"request_id": g.Request.GetID(), "accounts": n})
	if err := l.Flag(ctx, g, ReasonBurnedCode, ""); err != nil {
		return false, err
	}
	return true, nil
}

// Flag ends a grant found abused and revokes what it issued (RFC 10027: detect and remediate): a
// pending grant is denied (the client gets access_denied), an approved or redeemed one is expired and
// every token it issued revoked (introspection says inactive at once), and Policy.Events announces it
// — in the same transaction when the store is transactional. A grant is flagged once; flagging it
// again is not an error and changes nothing. The store must implement IndexStorage.
func (l *Lifecycle) Flag(ctx context.Context, g *Grant, reason, by string) (err error) {
	idx, ok := l.Storage.(IndexStorage)
	if !ok {
		return fosite.ErrServerError.WithDebug("Flagging a grant needs a store implementing pending.IndexStorage.")
	}
	now := clock.Now(l.Now)
	if ctx, err = storage.MaybeBeginTx(ctx, l.Storage); err != nil {
		return rfc6749.ServerError(err)
	}
	defer func() {
		if err != nil {
			_ = storage.MaybeRollbackTx(ctx, l.Storage)
		}
	}()
	// Remember the flag for longer than any token the grant may have issued.
	err = idx.UseOnce(ctx, "flagged|"+string(l.Kind)+"|"+g.Request.GetID(), now.Add(400*24*time.Hour), now)
	if errors.Is(err, ErrStateChanged) {
		err = nil
		return storage.MaybeRollbackTx(ctx, l.Storage)
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	r := Remediation{Kind: l.Kind, RequestID: g.Request.GetID(), ClientID: g.ClientID(), Subject: g.Subject, Reason: reason, By: by, Time: now}
	kick := false
	switch g.State {
	case StatePending:
		err = l.Storage.DecidePendingGrant(ctx, l.Kind, g.HandleSignature, Decision{Approved: false, Subject: g.Subject, Actor: flagActor(reason, by)}, now)
		switch {
		case errors.Is(err, ErrStateChanged):
			// Decided meanwhile: end it as an approved one.
			err = idx.ExpirePendingGrant(ctx, l.Kind, g.HandleSignature, now)
		case err == nil && l.DenyEffects != nil:
			err = l.DenyEffects(ctx, g)
			kick = err == nil && l.Kick != nil
		}
	default:
		err = idx.ExpirePendingGrant(ctx, l.Kind, g.HandleSignature, now)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return rfc6749.ServerError(err)
	}
	if g.State == StateApproved || g.State == StateConsumed {
		if err = RevokeReplayed(ctx, l.Storage, g); err != nil {
			return rfc6749.ServerError(err)
		}
		r.TokensRevoked = g.State == StateConsumed
	}
	if l.Policy.Events != nil {
		if err = l.Policy.Events.Announce(ctx, r); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	if err = storage.MaybeCommitTx(ctx, l.Storage); err != nil {
		return rfc6749.ServerError(err)
	}
	if kick {
		l.Kick()
	}
	l.audit(ctx, audit.Event{Type: audit.EventFlagged, Subject: g.Subject, Actor: by, ClientID: g.ClientID(), RequestID: r.RequestID,
		Time: now, Data: map[string]any{"reason": reason, "state": string(g.State), "tokens_revoked": r.TokensRevoked}})
	if l.Logger != nil {
		l.Logger.LogAttrs(ctx, slog.LevelWarn, "grant flagged as abused; it is ended and its tokens revoked",
			slog.String("kind", string(l.Kind)), slog.String("client_id", g.ClientID()), slog.String("request_id", r.RequestID),
			slog.String("reason", reason))
	}
	return nil
}

// FlagRequest flags the grant whose request ID is requestID (see Flag): for an administrator or a
// staff tool acting on a report. Errors: ErrNotFound (no such grant of this kind), server_error.
func (l *Lifecycle) FlagRequest(ctx context.Context, requestID, reason, by string) error {
	idx, ok := l.Storage.(IndexStorage)
	if !ok {
		return fosite.ErrServerError.WithDebug("Flagging a grant needs a store implementing pending.IndexStorage.")
	}
	g, err := idx.GetPendingGrantByRequestID(ctx, l.Kind, requestID)
	if errors.Is(err, ErrNotFound) {
		return fosite.ErrNotFound.WithWrap(ErrNotFound).WithHint("No request of this kind has that ID.")
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	return l.Flag(ctx, g, reason, by)
}

// minutes says d in whole minutes, for a person.
func minutes(d time.Duration) string {
	n := max(1, int((d+time.Minute-1)/time.Minute))
	if n == 1 {
		return "a minute"
	}
	return strconv.Itoa(n) + " minutes"
}

func flagActor(reason, by string) string {
	if by != "" {
		return by
	}
	return "policy:" + reason
}

// auditPolicy records that a policy acted.
func (l *Lifecycle) auditPolicy(ctx context.Context, policy, clientID, subject, address string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["policy"] = policy
	if address != "" {
		data["address"] = address
	}
	l.audit(ctx, audit.Event{Type: audit.EventPolicyRefused, Subject: subject, ClientID: clientID, Time: clock.Now(l.Now), Data: data})
}

// audit records e for this lifecycle's grant; a failure is logged (the policy's answer stands).
func (l *Lifecycle) audit(ctx context.Context, e audit.Event) {
	if l.Audit == nil {
		return
	}
	if e.Grant == "" {
		e.Grant = auditGrant(l.Kind)
	}
	if err := l.Audit.Record(ctx, e); err != nil {
		l.logPolicy(ctx, "audit event not recorded", err)
	}
}

func auditGrant(k Kind) string {
	switch k {
	case KindDeviceCode:
		return audit.GrantDeviceCode
	case KindCIBA:
		return audit.GrantCIBA
	case KindOTP:
		return audit.GrantOTP
	}
	return string(k)
}

func (l *Lifecycle) logPolicy(ctx context.Context, msg string, err error) {
	if l.Logger != nil {
		l.Logger.LogAttrs(ctx, slog.LevelError, msg, slog.String("kind", string(l.Kind)), slog.String("error", err.Error()))
	}
}
