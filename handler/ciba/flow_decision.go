package ciba

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Decider is the decision API the authentication-device side calls (CIBA Core §8): it lists a user's
// pending requests, and approves or denies one. On a decision it also queues the client's callback in
// the same transaction (ping §10.2; push §10.3, with the tokens minted then; push error §12).
type Decider struct {
	Storage Storage
	Codes   *pending.Codes
	// Issuer mints tokens for push clients; its Storage must be the same store as Storage.
	Issuer *pending.TokenIssuer
	// Outbox queues callbacks; required when any client uses ping or push.
	Outbox Outbox
	// Sealer seals and opens client_notification_tokens.
	Sealer *Sealer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives decisions and failures (never a token); nil discards.
	Logger *slog.Logger
	// Kick, when set, is called after a decision that queued a callback has committed (for example
	// outbox.Worker.Kick, so the callback leaves at once rather than at the worker's next poll).
	Kick func()
}

func (d *Decider) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Approve approves the request ref for the user in dec (CIBA Core §8). dec.Subject must be the user the
// request is for; dec.Session must be an openid.Session whose ID token subject is dec.Subject when
// openid is granted; unless dec.GrantedScopes is set, every requested scope is granted (a scope that was
// not requested cannot be). Errors: ErrRequestNotFound (unknown ref, another user's request, already
// decided, expired), invalid_scope, server_error.
func (d *Decider) Approve(ctx context.Context, ref string, dec pending.Decision) error {
	rec, g, err := d.find(ctx, ref, dec.Subject)
	if err != nil {
		return err
	}
	if err := completeApproval(g, &dec); err != nil {
		return err
	}
	return d.decide(ctx, rec, g, dec)
}

// Deny denies the request ref for subject (CIBA Core §8): the client gets access_denied (§11, §12).
// Errors: ErrRequestNotFound, server_error.
func (d *Decider) Deny(ctx context.Context, ref, subject string) error {
	rec, g, err := d.find(ctx, ref, subject)
	if err != nil {
		return err
	}
	return d.decide(ctx, rec, g, pending.Decision{Approved: false, Subject: subject})
}

// Lookup returns the pending request ref for subject, for a page that shows one request (a link in an
// e-mail). Errors: ErrRequestNotFound, server_error.
func (d *Decider) Lookup(ctx context.Context, ref, subject string) (*Request, error) {
	rec, g, err := d.find(ctx, ref, subject)
	if err != nil {
		return nil, err
	}
	r := requestOf(g, rec)
	return &r, nil
}

// Pending lists the requests for subject that still wait for a decision, oldest first, for an
// authentication-device page.
func (d *Decider) Pending(ctx context.Context, subject string) ([]Request, error) {
	if subject == "" {
		return nil, nil
	}
	now := d.now()
	recs, err := d.Storage.ListCIBARecordsBySubject(ctx, subject, now)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	out := []Request{}
	for _, rec := range recs {
		g, err := d.Storage.GetPendingGrant(ctx, pending.KindCIBA, rec.HandleSignature, nil)
		if errors.Is(err, pending.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, rfc6749.ServerError(err)
		}
		if g.State == pending.StatePending && !g.Expired(now) {
			out = append(out, requestOf(g, rec))
		}
	}
	return out, nil
}

// ExpirePush sends the §12 expired_token error to push clients whose requests expired unanswered, at most
// limit of them per call, and returns how many it queued. Call it periodically (a minute is fine).
func (d *Decider) ExpirePush(ctx context.Context, limit int) (int, error) {
	now := d.now()
	recs, err := d.Storage.ListExpiredCIBARecords(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rec := range recs {
		g, err := d.Storage.GetPendingGrant(ctx, pending.KindCIBA, rec.HandleSignature, nil)
		if err != nil && !errors.Is(err, pending.ErrNotFound) {
			return n, err
		}
		if err == nil && g.State != pending.StatePending && g.State != pending.StateApproved {
			// Decided and notified by the decision itself; only the mark is missing.
			_ = d.Storage.MarkCIBARecordNotified(ctx, rec.Ref)
			continue
		}
		sent, err := d.notifyOnce(ctx, rec, CallbackPushError, func(authReqID string) ([]byte, error) {
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

// find returns the record and the grant of ref, when it is pending for subject and not expired.
func (d *Decider) find(ctx context.Context, ref, subject string) (*Record, *pending.Grant, error) {
	if ref == "" || subject == "" {
		return nil, nil, ErrRequestNotFound
	}
	rec, err := d.Storage.GetCIBARecord(ctx, ref)
	if errors.Is(err, pending.ErrNotFound) {
		return nil, nil, ErrRequestNotFound
	} else if err != nil {
		return nil, nil, rfc6749.ServerError(err)
	}
	if rec.Subject != subject {
		return nil, nil, ErrRequestNotFound
	}
	return d.grantOf(ctx, rec)
}

func (d *Decider) grantOf(ctx context.Context, rec *Record) (*Record, *pending.Grant, error) {
	g, err := d.Storage.GetPendingGrant(ctx, pending.KindCIBA, rec.HandleSignature, nil)
	if errors.Is(err, pending.ErrNotFound) {
		return nil, nil, ErrRequestNotFound
	} else if err != nil {
		return nil, nil, rfc6749.ServerError(err)
	}
	if g.State != pending.StatePending || g.Expired(d.now()) {
		return nil, nil, ErrRequestNotFound
	}
	return rec, g, nil
}

// completeApproval checks an approval and fills in its defaults, as rfc8628.Verifier.Approve does.
func completeApproval(g *pending.Grant, dec *pending.Decision) error {
	dec.Approved = true
	if dec.Subject == "" {
		return fosite.ErrInvalidRequest.WithHint("The subject of an approval is missing.")
	}
	if dec.Session == nil {
		return fosite.ErrServerError.WithDebug("Approve needs a session to issue tokens with.")
	}
	requested := g.Request.GetRequestedScopes()
	if dec.GrantedScopes == nil {
		dec.GrantedScopes = requested
	}
	for _, s := range dec.GrantedScopes {
		if !requested.Has(s) {
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' was not requested.", s)
		}
	}
	audience := g.Request.GetRequestedAudience()
	if dec.GrantedAudience == nil {
		dec.GrantedAudience = audience
	}
	for _, a := range dec.GrantedAudience {
		if !audience.Has(a) {
			return fosite.ErrInvalidRequest.WithHintf("The audience '%s' was not requested.", a)
		}
	}
	if fosite.Arguments(dec.GrantedScopes).Has("openid") {
		s, ok := dec.Session.(openid.Session)
		if !ok || s.IDTokenClaims() == nil || s.IDTokenClaims().Subject != dec.Subject {
			return fosite.ErrServerError.WithDebug("The openid scope is granted, so the session must be an openid.Session whose ID token subject is the approval's subject.")
		}
	}
	return nil
}

// decide records the decision and, for ping and push clients, queues the callback, in one transaction.
func (d *Decider) decide(ctx context.Context, rec *Record, g *pending.Grant, dec pending.Decision) (err error) {
	now := d.now()
	ctx, err = storage.MaybeBeginTx(ctx, d.Storage)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	defer func() {
		if err != nil {
			_ = storage.MaybeRollbackTx(ctx, d.Storage)
		}
	}()
	err = d.Storage.DecidePendingGrant(ctx, pending.KindCIBA, g.HandleSignature, dec, now)
	if errors.Is(err, pending.ErrStateChanged) || errors.Is(err, pending.ErrNotFound) {
		return ErrRequestNotFound
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	switch rec.Mode {
	case ModePing:
		if err = d.enqueue(ctx, rec, CallbackPing, func(authReqID string) ([]byte, error) {
			return json.Marshal(map[string]string{"auth_req_id": authReqID})
		}); err != nil {
			return err
		}
	case ModePush:
		if dec.Approved {
			err = d.enqueue(ctx, rec, CallbackPushToken, func(authReqID string) ([]byte, error) {
				return d.mint(ctx, g, dec, authReqID)
			})
		} else {
			err = d.enqueue(ctx, rec, CallbackPushError, func(authReqID string) ([]byte, error) {
				return pushError(pending.ErrAccessDenied.RFC6749(), authReqID), nil
			})
		}
		if err != nil {
			return err
		}
	}
	if err = storage.MaybeCommitTx(ctx, d.Storage); err != nil {
		return rfc6749.ServerError(err)
	}
	if d.Kick != nil && (rec.Mode == ModePing || rec.Mode == ModePush) {
		d.Kick()
	}
	if d.Logger != nil {
		d.Logger.LogAttrs(ctx, slog.LevelInfo, "backchannel authentication request decided",
			slog.String("client_id", rec.ClientID), slog.String("request_id", g.Request.GetID()),
			slog.Bool("approved", dec.Approved), slog.String("mode", string(rec.Mode)))
	}
	return nil
}

// enqueue marks the record notified and queues its callback, within the caller's transaction.
func (d *Decider) enqueue(ctx context.Context, rec *Record, kind CallbackKind, body func(authReqID string) ([]byte, error)) error {
	if d.Outbox == nil {
		return fosite.ErrServerError.WithDebug("No outbox is configured for ping and push callbacks.")
	}
	if err := d.Storage.MarkCIBARecordNotified(ctx, rec.Ref); err != nil {
		if errors.Is(err, pending.ErrStateChanged) {
			return ErrRequestNotFound
		}
		return rfc6749.ServerError(err)
	}
	authReqID, err := d.Sealer.Open(ctx, rec.Ref+sealAuthReqID, rec.SealedAuthReqID)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	token, err := d.Sealer.Open(ctx, rec.Ref+sealToken, rec.SealedToken)
	if err != nil {
		return rfc6749.ServerError(err)
	}
	b, err := body(authReqID)
	if err != nil {
		return err
	}
	c := Callback{ID: string(kind) + ":" + rec.Ref, Kind: kind, Target: rec.NotificationEndpoint, Token: token, Body: b, ClientID: rec.ClientID}
	if err := d.Outbox.Enqueue(ctx, c); err != nil {
		return rfc6749.ServerError(err)
	}
	return nil
}

// notifyOnce queues one callback for rec in its own transaction, unless it was already notified.
func (d *Decider) notifyOnce(ctx context.Context, rec *Record, kind CallbackKind, body func(authReqID string) ([]byte, error)) (sent bool, err error) {
	ctx, err = storage.MaybeBeginTx(ctx, d.Storage)
	if err != nil {
		return false, err
	}
	err = d.enqueue(ctx, rec, kind, body)
	if errors.Is(err, ErrRequestNotFound) {
		return false, storage.MaybeRollbackTx(ctx, d.Storage)
	} else if err != nil {
		_ = storage.MaybeRollbackTx(ctx, d.Storage)
		return false, err
	}
	if err := storage.MaybeCommitTx(ctx, d.Storage); err != nil {
		return false, err
	}
	if d.Kick != nil {
		d.Kick()
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
	if d.Issuer == nil {
		return nil, fosite.ErrServerError.WithDebug("No token issuer is configured for push mode.")
	}
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
	issuer := *d.Issuer
	issuer.Storage = nonTx{d.Issuer.Storage}
	issuer.Prepare(ctx, &approved, GrantType, ar)
	setAuthReqIDClaim(ar.GetSession(), authReqID)
	resp := fosite.NewAccessResponse()
	if err := issuer.Issue(ctx, pending.KindCIBA, g.HandleSignature, GrantType, ar, resp); err != nil {
		return nil, err
	}
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
