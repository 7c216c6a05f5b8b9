package sqlstore

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
)

var (
	_ pending.IndexStorage    = (*Store)(nil)
	_ pending.CallbackStorage = (*Store)(nil)
)

// scannedCallback reads the callback columns of pending_grants.
type scannedCallback struct {
	endpoint           string
	token, handle      []byte
	onExpiry, notified int64
}

func (c *scannedCallback) dest() []any {
	return []any{&c.endpoint, &c.token, &c.handle, &c.onExpiry, &c.notified}
}

// callback returns the grant's Callback: nil when it owes none (no endpoint).
func (c *scannedCallback) callback() *pending.Callback {
	if c.endpoint == "" {
		return nil
	}
	cb := &pending.Callback{Endpoint: c.endpoint, SealedToken: c.token, SealedHandle: c.handle, OnExpiry: c.onExpiry != 0, Notified: c.notified != 0}
	if len(cb.SealedToken) == 0 {
		cb.SealedToken = nil
	}
	if len(cb.SealedHandle) == 0 {
		cb.SealedHandle = nil
	}
	return cb
}

// callbackArgs are the values of the callback columns for cb.
func callbackArgs(cb *pending.Callback) []any {
	if cb == nil {
		return []any{"", nil, nil, 0, 0}
	}
	return []any{cb.Endpoint, cb.SealedToken, cb.SealedHandle, boolInt(cb.OnExpiry), boolInt(cb.Notified)}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MarkCallbackQueued implements pending.CallbackStorage with one conditional UPDATE.
func (s *Store) MarkCallbackQueued(ctx context.Context, kind pending.Kind, handleSignature string) error {
	n, err := s.execAffected(ctx, "UPDATE pending_grants SET callback_notified = 1 WHERE kind = ? AND handle_signature = ? AND callback_endpoint <> '' AND callback_notified = 0",
		string(kind), handleSignature)
	if err != nil {
		return wrap(err, "mark callback queued")
	}
	if n == 0 {
		return s.missingOrChanged(ctx, kind, handleSignature)
	}
	return nil
}

// ListUnnotifiedExpired implements pending.CallbackStorage (index pending_grants_callback).
func (s *Store) ListUnnotifiedExpired(ctx context.Context, kind pending.Kind, now time.Time, limit int) ([]*pending.Grant, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.listGrants(ctx, "SELECT handle_signature FROM pending_grants WHERE kind = ? AND callback_on_expiry = 1 AND callback_notified = 0 "+
		"AND expires_at <= ? ORDER BY expires_at, handle_signature LIMIT ?", string(kind), string(kind), now.UnixNano(), limit)
}

// ListPendingGrantsBySubject implements pending.IndexStorage (index pending_grants_subject).
func (s *Store) ListPendingGrantsBySubject(ctx context.Context, kind pending.Kind, subject string, now time.Time) ([]*pending.Grant, error) {
	if subject == "" {
		return []*pending.Grant{}, nil
	}
	return s.listGrants(ctx, "SELECT handle_signature FROM pending_grants WHERE kind = ? AND subject = ? AND subject <> '' "+
		"AND state = ? AND expires_at > ? ORDER BY created_at, request_id LIMIT 100",
		string(kind), string(kind), subject, string(pending.StatePending), now.UnixNano())
}
