package pending

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// IndexStorage finds pending grants by something other than their secrets, ends them early, and
// remembers single-use values across server instances: what the decision APIs (a CIBA request decided
// by its reference, a device grant deactivated from an alert link) and remediation need. It is
// separate from Storage so that stores without these indexes still serve the plain grants.
type IndexStorage interface {
	// GetPendingGrantByRequestID returns the grant of that kind whose Request ID is requestID, in any
	// state, or ErrNotFound. The returned Request carries no session.
	GetPendingGrantByRequestID(ctx context.Context, kind Kind, requestID string) (*Grant, error)

	// ListPendingGrantsBySubject returns the grants of that kind for subject (Grant.Subject) in state
	// PENDING and not expired at now, oldest first, at most 100. The returned Requests carry no session.
	ListPendingGrantsBySubject(ctx context.Context, kind Kind, subject string, now time.Time) ([]*Grant, error)

	// ExpirePendingGrant sets the grant's expiry to now when it lies after now, whatever its state, so
	// that a pending or approved grant can no longer be decided or redeemed (the client gets
	// expired_token). It returns ErrNotFound when there is no such grant; a grant that had already
	// expired is left as it is and is not an error.
	ExpirePendingGrant(ctx context.Context, kind Kind, handleSignature string, now time.Time) error

	// UseOnce records key as used until expiresAt, atomically: of any number of calls with the same
	// key before expiresAt exactly one returns nil and the others ErrStateChanged. A key whose record
	// has expired (at now) may be used again.
	UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error
}

// WithoutSession returns the same grant with its Request's session removed, for listings.
func WithoutSession(g *Grant) *Grant {
	if g == nil || g.Request == nil {
		return g
	}
	c := *g
	if r, ok := g.Request.(*fosite.Request); ok {
		rc := *r
		rc.Session = nil
		c.Request = &rc
	}
	return &c
}

// CallbackStorage keeps the callbacks grants owe their clients (Grant.Callback). When the store is
// transactional and ctx carries a transaction, the methods join it, so that a callback is marked
// queued if and only if the decision it reports is committed.
type CallbackStorage interface {
	// MarkCallbackQueued sets the grant's Callback.Notified, once: ErrStateChanged when it was already
	// set (or the grant owes no callback), ErrNotFound when there is no such grant.
	MarkCallbackQueued(ctx context.Context, kind Kind, handleSignature string) error

	// ListUnnotifiedExpired returns up to limit grants of that kind whose callback must report an expiry
	// (Callback.OnExpiry), not yet notified, that expired at or before now, oldest expiry first. The
	// returned Requests carry no session.
	ListUnnotifiedExpired(ctx context.Context, kind Kind, now time.Time, limit int) ([]*Grant, error)
}
