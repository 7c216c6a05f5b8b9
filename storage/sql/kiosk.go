package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

var _ rfc8628.KioskStorage = (*Store)(nil)

// Queries on the partial indexes of pending_grants (migration 00060) repeat the index's condition, so
// that SQLite and PostgreSQL can use it whatever the parameters are.
const (
	queryByLoginHint = "SELECT handle_signature FROM pending_grants WHERE kind = ? AND login_hint = ? AND login_hint <> '' " +
		"AND state = ? AND expires_at > ? ORDER BY created_at, handle_signature"
	queryApprovedBySubject = "SELECT handle_signature FROM pending_grants WHERE kind = ? AND subject = ? AND subject <> '' " +
		"AND decided_at >= ? AND client_id = ? AND state IN (?, ?) ORDER BY decided_at DESC, handle_signature LIMIT ?"
)

// ListPendingGrantsByLoginHint implements rfc8628.KioskStorage (index pending_grants_login_hint).
func (s *Store) ListPendingGrantsByLoginHint(ctx context.Context, kind pending.Kind, loginHint string, now time.Time) ([]*pending.Grant, error) {
	return s.listGrants(ctx, queryByLoginHint, string(kind), string(kind), loginHint, string(pending.StatePending), now.UnixNano())
}

// GetPendingGrantByRequestID implements pending.IndexStorage in one read (index
// pending_grants_request_id).
func (s *Store) GetPendingGrantByRequestID(ctx context.Context, kind pending.Kind, requestID string) (*pending.Grant, error) {
	return s.scanGrant(ctx, s.queryRow(ctx, "SELECT "+pendingColumns+" FROM pending_grants WHERE kind = ? AND request_id = ? LIMIT 1",
		string(kind), requestID), nil)
}

// ListApprovedGrants implements rfc8628.KioskStorage (index pending_grants_subject).
func (s *Store) ListApprovedGrants(ctx context.Context, kind pending.Kind, subject, clientID string, since time.Time, limit int) ([]*pending.Grant, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.listGrants(ctx, queryApprovedBySubject,
		string(kind), string(kind), subject, since.UnixNano(), clientID, string(pending.StateApproved), string(pending.StateConsumed), limit)
}

// ListExpiredGrants implements rfc8628.KioskStorage (index pending_grants_expires_at).
func (s *Store) ListExpiredGrants(ctx context.Context, kind pending.Kind, after, now time.Time, limit int) ([]*pending.Grant, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.listGrants(ctx, "SELECT handle_signature FROM pending_grants WHERE kind = ? AND expires_at > ? AND expires_at <= ? AND state IN (?, ?) ORDER BY expires_at, handle_signature LIMIT ?",
		string(kind), string(kind), after.UnixNano(), now.UnixNano(), string(pending.StatePending), string(pending.StateApproved), limit)
}

// listGrants runs a query selecting handle signatures (its first argument after the query is the kind
// to read the grants as), then reads each grant without its session. The signatures are read to the
// end first, so that a store limited to one connection does not deadlock.
func (s *Store) listGrants(ctx context.Context, query string, kind string, args ...any) ([]*pending.Grant, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "list pending grants")
	}
	var sigs []string
	for rows.Next() {
		var sig string
		if err := rows.Scan(&sig); err != nil {
			rows.Close()
			return nil, wrap(err, "list pending grants")
		}
		sigs = append(sigs, sig)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, wrap(err, "list pending grants")
	}
	rows.Close()
	out := make([]*pending.Grant, 0, len(sigs))
	for _, sig := range sigs {
		g, err := s.GetPendingGrant(ctx, pending.Kind(kind), sig, nil)
		if errors.Is(err, pending.ErrNotFound) {
			continue // purged meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// ExpirePendingGrant implements pending.IndexStorage with one conditional UPDATE.
func (s *Store) ExpirePendingGrant(ctx context.Context, kind pending.Kind, handleSignature string, now time.Time) error {
	n, err := s.execAffected(ctx, "UPDATE pending_grants SET expires_at = ? WHERE kind = ? AND handle_signature = ? AND expires_at > ?",
		now.UnixNano(), string(kind), handleSignature, now.UnixNano())
	if err != nil {
		return wrap(err, "expire pending grant")
	}
	if n == 0 {
		if err := s.missingOrChanged(ctx, kind, handleSignature); errors.Is(err, pending.ErrNotFound) {
			return err
		} else if !errors.Is(err, pending.ErrStateChanged) {
			return err
		}
	}
	return nil
}

// UseOnce implements pending.IndexStorage as one upsert that takes over the key only when its
// record has expired: of concurrent calls (on any number of instances) exactly one changes a row.
func (s *Store) UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error {
	n, err := s.execAffected(ctx, `INSERT INTO pending_once (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE pending_once.expires_at <= ?`,
		key, expiresAt.UnixNano(), now.UnixNano())
	if err != nil {
		return wrap(err, "use once")
	}
	if n == 0 {
		return pending.ErrStateChanged
	}
	return nil
}

// PurgeOnce deletes the single-use keys whose record has expired at now and returns how many.
// (Purge does not know this table; call both.)
func (s *Store) PurgeOnce(ctx context.Context, now time.Time) (int, error) {
	n, err := s.execAffected(ctx, "DELETE FROM pending_once WHERE expires_at <= ?", now.UnixNano())
	return int(n), wrap(err, "purge single-use keys")
}
