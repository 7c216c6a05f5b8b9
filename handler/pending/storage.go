package pending

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
)

// Errors a Storage returns. Implementations wrap them or return them as they are; callers test with
// errors.Is.
var (
	// ErrNotFound means no grant has that handle (or that live user code). It is fosite's own
	// ErrNotFound, so fosite-aware code treats it the same way.
	ErrNotFound = fosite.ErrNotFound
	// ErrCollision means a new grant's handle signature, or its user-code signature, is already taken by
	// a grant that has not expired. Nothing was stored; the caller draws new codes and tries again.
	ErrCollision = errors.New("pending: handle or user code already in use")
	// ErrStateChanged means a conditional state change found the grant in another state than the one
	// it requires (it was decided, consumed or expired meanwhile). Nothing was changed.
	ErrStateChanged = errors.New("pending: grant is not in the state the change requires")
)

// Storage keeps pending grants. Every method is safe for concurrent use, and every state change is a
// single conditional update, so that many server instances sharing one store behave like one: a
// handle is consumed once, a decision is taken once, and poll accounting holds across instances.
//
// Sessions: the Get methods hydrate the stored session into the session value they are given (which
// must be of the type the grant was approved with), as fosite's own storage interfaces do. A nil
// session means the caller does not need it: the returned Request then has a nil session.
type Storage interface {
	// CreatePendingGrant stores a new grant in the state it has (normally PENDING). It returns
	// ErrCollision, storing nothing, when a grant of the same kind already has the handle signature, or
	// when a grant of the same kind that has not expired at g.CreatedAt has the same non-empty
	// user-code signature.
	CreatePendingGrant(ctx context.Context, g *Grant) error

	// GetPendingGrant returns the grant of that kind with that handle signature, in whatever state and
	// whether expired or not, or ErrNotFound.
	GetPendingGrant(ctx context.Context, kind Kind, handleSignature string, session fosite.Session) (*Grant, error)

	// GetPendingGrantByUserCode returns the grant of that kind whose user-code signature matches and
	// that has not expired at now, or ErrNotFound.
	GetPendingGrantByUserCode(ctx context.Context, kind Kind, userCodeSignature string, now time.Time, session fosite.Session) (*Grant, error)

	// DecidePendingGrant records the user's decision: it moves the grant from PENDING to APPROVED (storing
	// subject, actor, session, granted scopes and audience, and the new expiry when d.ExpiresAt is set)
	// or to DENIED, with DecidedAt = now. It returns ErrStateChanged, changing nothing, unless the grant
	// is PENDING and not expired at now; ErrNotFound when there is no such grant.
	DecidePendingGrant(ctx context.Context, kind Kind, handleSignature string, d Decision, now time.Time) error

	// RecordPoll records that the client polled the grant at now. When the previous poll was less than
	// the grant's interval before now, it also raises the stored interval by step and reports
	// slowDown = true (RFC 8628 §3.5: the raised interval holds "for this and all subsequent requests").
	// The first poll is never too soon. Read, compare and write are one atomic step.
	// ErrNotFound when there is no such grant.
	RecordPoll(ctx context.Context, kind Kind, handleSignature string, now time.Time, step time.Duration) (slowDown bool, err error)

	// ConsumePendingGrant moves the grant from APPROVED to CONSUMED, once: of any number of concurrent
	// calls exactly one succeeds and the others get ErrStateChanged. When the store is transactional
	// (fosite's storage.Transactional) and ctx carries a transaction, the change belongs to it, so
	// that the grant is consumed if and only if the tokens are stored. Inside such a transaction a
	// store may report the refusal at the commit instead (it sends the consume with the rest, in one
	// round trip): the commit then fails with an error wrapping ErrStateChanged and commits nothing.
	ConsumePendingGrant(ctx context.Context, kind Kind, handleSignature string) error
}

// AttemptStorage counts failed attempts (user-code lookups, OTP guesses) per key in a fixed window, so
// that limits hold across server instances. Safe for concurrent use.
type AttemptStorage interface {
	// IncrementAttempts adds one failure to key and returns the count in the current window. A window
	// starts at the first failure after the previous window (of length window) has passed.
	IncrementAttempts(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// GetAttempts returns the count of key in the current window: 0 when there is none or it has passed.
	GetAttempts(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
}
