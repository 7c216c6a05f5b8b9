package ciba

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Decider is the decision API the authentication-device side calls (CIBA Core §8): it lists a user's
// pending requests, and approves or denies one. On a decision it also queues the client's callback in
// the same transaction (ping §10.2; push §10.3, with the tokens minted then; push error §12). Get one
// from New (Grant.Decider).
type Decider struct {
	lifecycle *pending.Lifecycle
	store     Storage
	sealer    *Sealer
	options   *Options
}

// Approve approves the request ref for the user in dec (CIBA Core §8). dec.Subject must be the user the
// request is for; dec.Session must be an openid.Session whose ID token subject is dec.Subject when
// openid is granted; unless dec.GrantedScopes is set, every requested scope is granted (a scope that was
// not requested cannot be; see pending.ValidateApproval). Errors: ErrRequestNotFound (unknown ref,
// another user's request, already decided, expired), invalid_scope, server_error.
func (d *Decider) Approve(ctx context.Context, ref string, dec pending.Decision) error {
	g, err := d.find(ctx, ref, dec.Subject)
	if err != nil {
		return err
	}
	dec.Approved = true
	return d.decide(ctx, g, dec)
}

// Deny denies the request ref for subject (CIBA Core §8): the client gets access_denied (§11, §12).
// Errors: ErrRequestNotFound, server_error.
func (d *Decider) Deny(ctx context.Context, ref, subject string) error {
	g, err := d.find(ctx, ref, subject)
	if err != nil {
		return err
	}
	return d.decide(ctx, g, pending.Decision{Approved: false, Subject: subject})
}

// Lookup returns the pending request ref for subject, for a page that shows one request (a link in an
// e-mail). Errors: ErrRequestNotFound, server_error.
func (d *Decider) Lookup(ctx context.Context, ref, subject string) (*Request, error) {
	g, err := d.find(ctx, ref, subject)
	if err != nil {
		return nil, err
	}
	r := requestOf(g)
	return &r, nil
}

// Pending lists the requests for subject that still wait for a decision, oldest first, for an
// authentication-device page.
func (d *Decider) Pending(ctx context.Context, subject string) ([]Request, error) {
	if subject == "" {
		return nil, nil
	}
	gs, err := d.store.ListPendingGrantsBySubject(ctx, pending.KindCIBA, subject, clock.Now(d.options.Now))
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	out := make([]Request, 0, len(gs))
	for _, g := range gs {
		if !isFallback(g) {
			out = append(out, requestOf(g))
		}
	}
	return out, nil
}

// isFallback reports whether g is an enrolment-fallback request: decided only through its user code
// (EnrollmentVerifier), never on an authentication device.
func isFallback(g *pending.Grant) bool { return g.Extra[extraFallback] == "true" }

// ExpirePush sends the §12 expired_token error to push clients whose requests expired unanswered, at most
// limit of them per call, and returns how many it queued. Call it periodically (a minute is fine).
func (d *Decider) ExpirePush(ctx context.Context, limit int) (int, error) {
	gs, err := d.store.ListUnnotifiedExpired(ctx, pending.KindCIBA, clock.Now(d.options.Now), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range gs {
		if g.State != pending.StatePending && g.State != pending.StateApproved {
			// Decided, and notified by the decision itself; only the mark is missing.
			_ = d.store.MarkCallbackQueued(ctx, pending.KindCIBA, g.HandleSignature)
			continue
		}
		sent, err := d.notifyOnce(ctx, g, CallbackPushError, func(authReqID string) ([]byte, error) {
			return pushError(pending.ErrExpiredToken.RFC6749(), authReqID), nil
		})
		if err != nil {
			return n, err
		}
		if sent {
			n++
		}
	}
	return n, nil
}

// find returns the grant of ref, when it is pending for subject and not expired.
func (d *Decider) find(ctx context.Context, ref, subject string) (*pending.Grant, error) {
	if ref == "" || subject == "" {
		return nil, ErrRequestNotFound
	}
	g, err := d.store.GetPendingGrantByRequestID(ctx, pending.KindCIBA, ref)
	if errors.Is(err, pending.ErrNotFound) {
		return nil, ErrRequestNotFound
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if g.Subject != subject || g.State != pending.StatePending || g.Expired(clock.Now(d.options.Now)) || isFallback(g) {
		return nil, ErrRequestNotFound
	}
	return g, nil
}

// decide records the decision and, for ping and push clients, queues the callback, in one transaction.
func (d *Decider) decide(ctx context.Context, g *pending.Grant, dec pending.Decision) error {
	mode := DeliveryMode(g.Extra[extraMode])
	var also func(ctx context.Context) error
	switch {
	case mode == ModePush && dec.Approved:
		also = func(ctx context.Context) error {
			return d.enqueue(ctx, g, CallbackPushToken, func(authReqID string) ([]byte, error) {
				return d.mint(ctx, g, dec, authReqID)
			})
		}
	case mode == ModePing || mode == ModePush:
		also = func(ctx context.Context) error { return d.notifyDecision(ctx, g) }
	}
	if dec.Approved {
		// Checked before the callback is built: a push mints with the completed decision.
		if err := pending.ValidateApproval(g, &dec); err != nil {
			return err
		}
	}
	err := d.lifecycle.Decide(ctx, g, &dec, also)
	if errors.Is(err, pending.ErrStateChanged) || errors.Is(err, ErrRequestNotFound) {
		return ErrRequestNotFound
	} else if err != nil {
		return err
	}
	if also != nil && d.options.Kick != nil {
		d.options.Kick()
	}
	if mode == ModePush && dec.Approved {
		d.lifecycle.Delivered(ctx, g, &dec, "push") // the tokens left with the approval (§10.3)
	}
	if d.options.Logger != nil {
		d.options.Logger.LogAttrs(ctx, slog.LevelInfo, "backchannel authentication request decided",
			slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID()),
			slog.Bool("approved", dec.Approved), slog.String("mode", string(mode)))
	}
	return nil
}

// notifyDecision queues the callback of a decision that carries no tokens: a ping (CIBA Core §10.2; the
// client then asks the token endpoint) or, in push mode, a denial's access_denied error (§12); nothing
// in poll mode. The lifecycle runs it for the denials it makes on its own (pending.Lifecycle.Flag).
func (d *Decider) notifyDecision(ctx context.Context, g *pending.Grant) error {
	switch DeliveryMode(g.Extra[extraMode]) {
	case ModePing:
		return d.enqueue(ctx, g, CallbackPing, func(authReqID string) ([]byte, error) {
			return json.Marshal(map[string]string{"auth_req_id": authReqID})
		})
	case ModePush:
		return d.enqueue(ctx, g, CallbackPushError, func(authReqID string) ([]byte, error) {
			return pushError(pending.ErrAccessDenied.RFC6749(), authReqID), nil
		})
	}
	return nil
}

// Report denies the request ref for subject and flags it as abused (pending.ReasonReported): the
// answer of an authentication device's "I did not ask for this" (RFC 10027 §6.1: detect and
// remediate). The client is told as on any denial; the flag is audited and announced
// (Options.Policy.Events). Errors: ErrRequestNotFound, server_error.
func (d *Decider) Report(ctx context.Context, ref, subject string) error {
	g, err := d.find(ctx, ref, subject)
	if err != nil {
		return err
	}
	return d.lifecycle.Flag(ctx, g, pending.ReasonReported, subject)
}

// enqueue marks the request's callback queued and queues it, within the caller's transaction.
func (d *Decider) enqueue(ctx context.Context, g *pending.Grant, kind CallbackKind, body func(authReqID string) ([]byte, error)) error {
	if d.options.Outbox == nil {
		return fosite.ErrServerError.WithDebug("No outbox is configured for ping and push callbacks.")
	}
	cb := g.Callback
	if cb == nil {
		return fosite.ErrServerError.WithDebug("The ping or push request has no callback.")
	}
	if err := d.store.MarkCallbackQueued(ctx, pending.KindCIBA, g.HandleSignature); err != nil {
		if errors.Is(err, pending.ErrStateChanged) {
			return ErrRequestNotFound
		}
		return rfc6749.ServerError(err)
	}
	ref := sealRef(g)
	authReqID, err := d.sealer.Open(ctx, ref+sealAuthReqID, cb.SealedHandle)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	token, err := d.sealer.Open(ctx, ref+sealToken, cb.SealedToken)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	b, err := body(authReqID)
	if err != nil {
		return err
	}
	c := Callback{ID: string(kind) + ":" + g.Request.GetID(), Kind: kind, Target: cb.Endpoint, Token: token, Body: b, ClientID: g.ClientID()}
	if err := d.options.Outbox.Enqueue(ctx, c); err != nil {
		return rfc6749.ServerError(err)
	}
	return nil
}

// notifyOnce queues one callback for g in its own transaction, unless it was already queued.
func (d *Decider) notifyOnce(ctx context.Context, g *pending.Grant, kind CallbackKind, body func(authReqID string) ([]byte, error)) (sent bool, err error) {
	ctx, err = storage.MaybeBeginTx(ctx, d.store)
	if err != nil {
		return false, err
	}
	err = d.enqueue(ctx, g, kind, body)
	if errors.Is(err, ErrRequestNotFound) {
		return false, storage.MaybeRollbackTx(ctx, d.store)
	} else if err != nil {
		_ = storage.MaybeRollbackTx(ctx, d.store)
		return false, err
	}
	if err := storage.MaybeCommitTx(ctx, d.store); err != nil {
		return false, err
	}
	if d.options.Kick != nil {
		d.options.Kick()
	}
	return true, nil
}

// pushError is the §12 push error payload.
func pushError(e *fosite.RFC6749Error, authReqID string) []byte {
	b, _ := json.Marshal(map[string]string{
		"error":             e.ErrorField,
		"error_description": rfc6749.DescriptionChars(e.GetDescription()),
		"auth_req_id":       authReqID,
	})
	return b
}

// nonTx hides the store's transactions from the issuer, so that its writes join the decision's.
type nonTx struct{ pending.TokenStorage }

// mint issues the tokens of an approved push request, within the caller's transaction, and returns the
// push payload (CIBA Core §10.3.1): the token response plus auth_req_id; the ID token carries at_hash,
// the auth_req_id claim and, with a refresh token, rt_hash.
func (d *Decider) mint(ctx context.Context, g *pending.Grant, dec pending.Decision, authReqID string) ([]byte, error) {
	r := fosite.NewRequest()
	r.ID = g.Request.GetID()
	r.RequestedAt = g.Request.GetRequestedAt()
	r.Client = g.Request.GetClient()
	r.RequestedScope = g.Request.GetRequestedScopes()
	r.RequestedAudience = g.Request.GetRequestedAudience()
	r.GrantedScope = fosite.Arguments(dec.GrantedScopes)
	r.GrantedAudience = fosite.Arguments(dec.GrantedAudience)
	r.Session = dec.Session
	r.Form = g.Request.GetRequestForm()
	approved := *g
	approved.Request = r

	ar := fosite.NewAccessRequest(dec.Session)
	ar.Client = r.Client
	ar.GrantTypes = fosite.Arguments{string(GrantType)}
	ar.Form.Set("grant_type", string(GrantType))
	issuer := *d.lifecycle.Issuer
	issuer.Storage = nonTx{issuer.Storage}
	issuer.Prepare(ctx, &approved, GrantType, ar)
	setAuthReqIDClaim(ar.GetSession(), authReqID)
	if err := bindDPoP(ar.GetSession(), g); err != nil {
		return nil, rfc6749.ServerError(err)
	}
	resp := fosite.NewAccessResponse()
	if err := issuer.Issue(ctx, pending.KindCIBA, g.HandleSignature, GrantType, ar, resp); err != nil {
		return nil, err
	}
	pushTokenType(ar.GetSession(), resp)
	if refresh, _ := resp.GetExtra("refresh_token").(string); refresh != "" && issuer.IDTokenStrategy != nil {
		if sess, ok := ar.GetSession().(openid.Session); ok && resp.GetExtra("id_token") != nil {
			helper := openid.IDTokenHandleHelper{IDTokenStrategy: issuer.IDTokenStrategy}
			rtHash, err := helper.ComputeHash(ctx, sess, refresh)
			if err != nil {
				return nil, rfc6749.ServerError(err)
			}
			sess.IDTokenClaims().Add(RefreshTokenHashClaim, rtHash)
			lifespan := fosite.GetEffectiveLifespan(ar.GetClient(), GrantType, fosite.IDToken, issuer.Config.GetIDTokenLifespan(ctx))
			idToken, err := issuer.IDTokenStrategy.GenerateIDToken(ctx, lifespan, ar)
			if err != nil {
				return nil, rfc6749.ServerError(err)
			}
			resp.SetExtra("id_token", idToken)
		}
	}
	m := resp.ToMap()
	m["auth_req_id"] = authReqID
	return json.Marshal(m)
}
