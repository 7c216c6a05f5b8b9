package pending

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// ListingStorage finds pending grants by something other than their secrets: the account a device
// named (a staffed kiosk lists the requests waiting for the person in front of it), the request ID
// every token of a grant carries (to deactivate a grant from an alert link), and the approvals one
// user gave one client lately (the repeat-approval warning suggested in Google's note "Authorizing
// rich-client devices without a web browser" for approvals "for the same claimed app in a short period").
//
// It is separate from Storage so that stores without these indexes still serve the plain grants.
type ListingStorage interface {
	// ListPendingGrantsByLoginHint returns the grants of that kind in state PENDING, not expired at now,
	// whose LoginHint equals loginHint exactly, oldest first. No match is an empty list, not an error.
	// The returned Requests carry no session.
	ListPendingGrantsByLoginHint(ctx context.Context, kind Kind, loginHint string, now time.Time) ([]*Grant, error)

	// GetPendingGrantByRequestID returns the grant of that kind whose Request ID is requestID, in any
	// state, or ErrNotFound. The returned Request carries no session.
	GetPendingGrantByRequestID(ctx context.Context, kind Kind, requestID string) (*Grant, error)

	// ListApprovedGrants returns the grants of that kind that subject approved for clientID with
	// DecidedAt at or after since, in state APPROVED or CONSUMED, newest first, at most limit of them.
	// The returned Requests carry no session.
	ListApprovedGrants(ctx context.Context, kind Kind, subject, clientID string, since time.Time, limit int) ([]*Grant, error)

	// ListExpiredGrants returns up to limit grants of that kind in state PENDING or APPROVED whose expiry
	// is after after and at or before now (they were never redeemed), oldest expiry first. Purge jobs use
	// it to audit expiries before deleting the rows, paging with after.
	ListExpiredGrants(ctx context.Context, kind Kind, after, now time.Time, limit int) ([]*Grant, error)
}

// DeactivationStorage ends grants early and remembers single-use values (links, one-off audit
// records) across server instances.
type DeactivationStorage interface {
	// ExpirePendingGrant sets the grant's expiry to now when it lies after now, whatever its state, so
	// that a pending or approved grant can no longer be decided or redeemed (the device gets
	// expired_token). It returns ErrNotFound when there is no such grant; a grant that had already
	// expired is left as it is and is not an error.
	ExpirePendingGrant(ctx context.Context, kind Kind, handleSignature string, now time.Time) error

	// UseOnce records key as used until expiresAt, atomically: of any number of calls with the same
	// key before expiresAt exactly one returns nil and the others ErrStateChanged. A key whose record
	// has expired (at now) may be used again.
	UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error
}

// KioskStorage is everything the staffed-kiosk and alert features need of a store.
type KioskStorage interface {
	Storage
	ListingStorage
	DeactivationStorage
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
