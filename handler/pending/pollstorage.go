package pending

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/clock"
)

// PollStorage is an optional interface of Storage: a store that reads a polled grant and records the
// poll in one step implements it (on a database, one statement and one round trip instead of
// GetPendingGrant followed by RecordPoll). Lifecycle.Poll uses it when the store has it.
type PollStorage interface {
	// PollPendingGrant returns the grant of that kind with that handle signature, in whatever state,
	// with its session read into session; ErrNotFound when there is none. When the grant is pending, not
	// expired at now and issued to clientID, the poll is recorded as RecordPoll records it (RFC 8628
	// §3.5, CIBA §7.3) and slowDown reports whether it came too soon; otherwise nothing is changed and
	// slowDown is false.
	PollPendingGrant(ctx context.Context, kind Kind, handleSignature, clientID string, now time.Time, step time.Duration, session fosite.Session) (g *Grant, slowDown bool, err error)
}

// pollOnce is Poll on a PollStorage: the grant is read and its poll recorded in one step. It answers
// exactly as Load followed by RecordPoll does; the only difference is that a grant accept refuses (a
// CIBA push-mode request polled by mistake) has had its poll recorded when it was pending.
func (l *Lifecycle) pollOnce(ctx context.Context, ps PollStorage, req fosite.AccessRequester, accept func(*Grant) error) (*Grant, time.Time, error) {
	sig, err := l.requestSignature(ctx, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	step := l.SlowDownStep
	if step <= 0 {
		step = DefaultSlowDownStep
	}
	now := clock.Now(l.Now)
	clientID := req.GetClient().GetID()
	g, slow, err := ps.PollPendingGrant(ctx, l.Kind, sig, clientID, now, step, req.GetSession())
	if err != nil {
		return nil, time.Time{}, lookupError(err)
	}
	g, at, err := l.settle(ctx, g, accept, clientID, now)
	if errors.Is(err, ErrAuthorizationPending) && slow {
		return g, at, ErrSlowDown
	}
	return g, at, err
}
