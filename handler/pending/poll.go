package pending

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// PollStorage is what a Poller reads and writes: the pending grants, and the token revocation a replay
// triggers.
type PollStorage interface {
	Storage
	oauth2.TokenRevocationStorage
}

// Poller is the token-endpoint step every polled grant shares (RFC 8628 §3.4–3.5, CIBA §10.1 and §11):
// read the handle from its parameter, check it, load the grant, map it to the answer with Check, count
// the poll (slow_down), revoke on replay; and, once approved, consume and issue. The grant's own token
// handler adds only what is particular to it.
type Poller struct {
	Kind Kind
	// Param is the form parameter that carries the handle ("device_code", "auth_req_id").
	Param   string
	Storage PollStorage
	Codes   *Codes
	Issuer  *TokenIssuer
	// SlowDownStep is what a slow_down adds to the interval (5 seconds in both specs).
	SlowDownStep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives replays; nil discards. Polls are not logged.
	Logger *slog.Logger
	// Replayed, when not nil, is told of every replay after the revocation (e.g. to audit it), with the
	// revocation's error.
	Replayed func(ctx context.Context, g *Grant, revocationErr error)
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// Handle returns the handle the request carries: present, and only once (RFC 6749 §3.2).
func (p *Poller) Handle(req fosite.AccessRequester) (string, error) {
	values := req.GetRequestForm()[p.Param]
	switch {
	case len(values) > 1:
		return "", fosite.ErrInvalidRequest.WithHintf("The '%s' parameter must not be included more than once.", p.Param)
	case len(values) == 0 || values[0] == "":
		return "", fosite.ErrInvalidRequest.WithHintf("The '%s' parameter is missing.", p.Param)
	}
	return values[0], nil
}

// Poll answers a poll. It returns the grant, the time it judged it at, and nil when the grant is approved
// (the caller then calls Issuer.Prepare); otherwise the error is the answer: authorization_pending,
// slow_down, access_denied, expired_token or invalid_grant. accept, when not nil, may refuse a loaded
// grant before it is judged (e.g. a CIBA push-mode request, which is never polled); a grant it refuses is
// neither counted as a poll nor revoked.
func (p *Poller) Poll(ctx context.Context, req fosite.AccessRequester, accept func(*Grant) error) (*Grant, time.Time, error) {
	handle, err := p.Handle(req)
	if err != nil {
		return nil, time.Time{}, err
	}
	sig, err := p.Codes.HandleSignature(ctx, handle)
	if err != nil {
		return nil, time.Time{}, err
	}
	g, err := p.Storage.GetPendingGrant(ctx, p.Kind, sig, req.GetSession())
	if errors.Is(err, ErrNotFound) {
		return nil, time.Time{}, fosite.ErrInvalidGrant.WithHint("The handle is unknown.")
	} else if err != nil {
		return nil, time.Time{}, rfc6749.ServerError(err)
	}
	if accept != nil {
		if err := accept(g); err != nil {
			return g, time.Time{}, err
		}
	}
	now := p.now()
	err = Check(g, req.GetClient().GetID(), now)
	switch {
	case errors.Is(err, ErrReplayed):
		p.revoke(ctx, g)
	case errors.Is(err, ErrAuthorizationPending):
		slow, perr := p.Storage.RecordPoll(ctx, p.Kind, sig, now, p.SlowDownStep)
		if perr != nil {
			return g, now, rfc6749.ServerError(perr)
		}
		if slow {
			return g, now, ErrSlowDown
		}
	}
	return g, now, err
}

// Redeem consumes the approved grant and issues its tokens in one step (TokenIssuer.Issue). If a
// concurrent redemption won, this one is treated as the replay it is: what the winner issued is revoked.
func (p *Poller) Redeem(ctx context.Context, grantType fosite.GrantType, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	sig, err := p.Codes.HandleSignature(ctx, req.GetRequestForm().Get(p.Param))
	if err != nil {
		return err
	}
	err = p.Issuer.Issue(ctx, p.Kind, sig, grantType, req, resp)
	if errors.Is(err, ErrReplayed) {
		if g, gerr := p.Storage.GetPendingGrant(ctx, p.Kind, sig, req.GetSession()); gerr == nil {
			p.revoke(ctx, g)
		}
	}
	return err
}

func (p *Poller) revoke(ctx context.Context, g *Grant) {
	err := RevokeReplayed(ctx, p.Storage, g)
	if p.Logger != nil {
		attrs := []slog.Attr{slog.String("kind", string(g.Kind)), slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID())}
		if err != nil {
			attrs = append(attrs, slog.String("revocation_error", err.Error()))
		}
		p.Logger.LogAttrs(ctx, slog.LevelWarn, "handle replayed; tokens it issued are revoked", attrs...)
	}
	if p.Replayed != nil {
		p.Replayed(ctx, g, err)
	}
}
