package linkchannel

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
)

// Link is the stored record of one link sent to one person. It holds no secret: the link's token is
// kept only as Signature, an HMAC under a key derived from the global secret.
//
// The record carries what the page shows (client, scopes, binding message), so that the page can be
// drawn without reading the pending grant, and the request's Ref, which the decision is recorded
// against (ciba.Decider).
type Link struct {
	// Signature is the HMAC of the link token; it is the primary key.
	Signature string
	// Ref is the CIBA request's reference (ciba.Request.Ref), not a secret.
	Ref string
	// Subject is the user the link was sent to; only they can decide with it.
	Subject string
	// ClientID and ClientName name the client that asks. ClientName is what the page shows.
	ClientID   string
	ClientName string
	// Scopes are the scopes the client asked for.
	Scopes []string
	// BindingMessage is the CIBA binding_message (§7.1), shown so the user can match it with the
	// consumption device. Plain text; the page escapes it.
	BindingMessage string
	// Locale is the language the message was written in; the page uses it too.
	Locale string
	// CreatedAt is when the link was sent; ExpiresAt when it stops working.
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the link was used (zero while unused), and Outcome what was decided with it
	// (OutcomeApproved or OutcomeDenied).
	UsedAt  time.Time
	Outcome string
}

// The outcomes recorded when a link is used.
const (
	OutcomeApproved = "approved"
	OutcomeDenied   = "denied"
)

// Errors a Store returns; callers test them with errors.Is.
var (
	// ErrNotFound means no link has that signature. It is fosite's ErrNotFound.
	ErrNotFound = fosite.ErrNotFound
	// ErrUsed means the link was already used, or had expired, when UseLink was called. Nothing was
	// changed.
	ErrUsed = errors.New("linkchannel: link already used or expired")
)

// Store keeps links. Implementations must be safe for concurrent use, and UseLink must be a single
// conditional update so that a link is used once even when many server instances share the store.
// storage/memory.CIBALinkStore and storage/sql's Store implement it.
type Store interface {
	// CreateCIBALink stores a new link. A link with the same signature already stored is an error.
	CreateCIBALink(ctx context.Context, l *Link) error
	// GetCIBALink returns the link with that signature, used or not, expired or not, or ErrNotFound.
	GetCIBALink(ctx context.Context, signature string) (*Link, error)
	// UseCIBALink marks the link used at now with outcome, once: it returns ErrUsed, changing nothing,
	// when the link was used already or has expired at now, and ErrNotFound when there is none.
	UseCIBALink(ctx context.Context, signature string, now time.Time, outcome string) error
}
