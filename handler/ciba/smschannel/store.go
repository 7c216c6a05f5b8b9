package smschannel

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
)

// Binding is the stored record of one prompt sent to one phone: the short code the person replies with
// binds their answer to one CIBA request. It holds neither the phone number nor the code: Signature is
// an HMAC of both, under a key derived from the global secret.
type Binding struct {
	// Signature is the HMAC of the phone number and the code; it is the primary key.
	Signature string
	// Ref is the CIBA request's reference (ciba.Request.Ref), not a secret.
	Ref string
	// Subject is the user the prompt was sent to; only they can decide with it.
	Subject string
	// ClientID and ClientName name the client that asks (ClientName for the confirmation message).
	ClientID   string
	ClientName string
	// Scopes are the scopes the client asked for, which an approval grants.
	Scopes []string
	// Locale is the language the prompt was written in; the confirmation uses it too.
	Locale string
	// CreatedAt is when the prompt was sent; ExpiresAt when its code stops working.
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when a reply decided with the code (zero while unused), and Outcome what it decided
	// (OutcomeApproved or OutcomeDenied).
	UsedAt  time.Time
	Outcome string
}

// The outcomes recorded when a code is used.
const (
	OutcomeApproved = "approved"
	OutcomeDenied   = "denied"
)

// Errors a Store returns; callers test them with errors.Is.
var (
	// ErrNotFound means no binding has that signature. It is fosite's ErrNotFound.
	ErrNotFound = fosite.ErrNotFound
	// ErrUsed means the binding was already used, or had expired, when UseSMSBinding was called.
	// Nothing was changed.
	ErrUsed = errors.New("smschannel: code already used or expired")
	// ErrCodeTaken means a binding with that signature (the same phone and code) has not expired yet.
	// Nothing was changed; the channel draws another code.
	ErrCodeTaken = errors.New("smschannel: code in use for that phone")
)

// Store keeps bindings. Implementations must be safe for concurrent use, and CreateSMSBinding and
// UseSMSBinding must each be a single conditional write, so that a code is live for one request at a
// time and decides once, even when many server instances share the store. storage/memory and
// storage/sql implement it.
type Store interface {
	// CreateSMSBinding stores b. When a binding with the same signature exists it replaces it only if
	// that one has expired at now (a used binding keeps its code until it expires, so that a late or
	// repeated reply cannot decide a newer request); otherwise it returns ErrCodeTaken.
	CreateSMSBinding(ctx context.Context, b *Binding, now time.Time) error
	// GetSMSBinding returns the binding with that signature, used or not, expired or not, or ErrNotFound.
	GetSMSBinding(ctx context.Context, signature string) (*Binding, error)
	// UseSMSBinding marks the binding used at now with outcome, once: it returns ErrUsed, changing
	// nothing, when it was used already or has expired at now, and ErrNotFound when there is none.
	UseSMSBinding(ctx context.Context, signature string, now time.Time, outcome string) error
}
