package ciba

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
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
}

func (d *Decider) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Approve approves the request ref for the user in dec (CIBA Core §8). dec.Subject must be the user the
// request is for; dec.Session must be an openid.Session whose ID token subject is dec.Subject (openid is
// always requested, §7.1); unless dec.GrantedScopes is set, every requested scope is granted. Errors:
// ErrRequestNotFound (unknown ref, another user's request, already decided, expired), invalid_scope,
// server_error.
func (d *Decider) Approve(ctx context.Context, ref string, dec pending.Decision) error {
	return errors.New("ciba: not implemented yet")
}

// Deny denies the request ref for subject (CIBA Core §8): the client gets access_denied (§11, §12).
// Errors: ErrRequestNotFound, server_error.
func (d *Decider) Deny(ctx context.Context, ref, subject string) error {
	return errors.New("ciba: not implemented yet")
}

// Lookup returns the pending request ref for subject, for a page that shows one request (a link in an
// e-mail). Errors: ErrRequestNotFound, server_error.
func (d *Decider) Lookup(ctx context.Context, ref, subject string) (*Request, error) {
	return nil, errors.New("ciba: not implemented yet")
}

// Pending lists the requests for subject that still wait for a decision, oldest first, for an
// authentication-device page.
func (d *Decider) Pending(ctx context.Context, subject string) ([]Request, error) {
	return nil, errors.New("ciba: not implemented yet")
}

// ExpirePush sends the §12 expired_token error to push clients whose requests expired unanswered, at most
// limit of them per call, and returns how many it queued. Call it periodically (a minute is fine).
func (d *Decider) ExpirePush(ctx context.Context, limit int) (int, error) {
	return 0, errors.New("ciba: not implemented yet")
}
