package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

var _ reciprocal.TokenStorage = (*Store)(nil)

// SetReciprocalToken implements reciprocal.TokenStorage with one upsert. The partner client must exist
// (deleting the client deletes its tokens).
func (s *Store) SetReciprocalToken(ctx context.Context, t *reciprocal.StoredToken) error {
	if t == nil || t.ClientID == "" || t.Subject == "" || len(t.Sealed) == 0 {
		return errors.New("sqlstore: a reciprocal token needs a client ID, a subject and a sealed token")
	}
	_, err := s.exec(ctx, "INSERT INTO reciprocal_tokens (client_id, subject, sealed, code_hash, scope, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "+
		"ON CONFLICT (client_id, subject) DO UPDATE SET sealed = excluded.sealed, code_hash = excluded.code_hash, scope = excluded.scope, "+
		"expires_at = excluded.expires_at, updated_at = excluded.updated_at",
		t.ClientID, t.Subject, t.Sealed, t.CodeHash, t.Scope, nanos(t.ExpiresAt), t.UpdatedAt.UnixNano())
	return wrap(err, "set reciprocal token")
}

// GetReciprocalToken implements reciprocal.TokenStorage.
func (s *Store) GetReciprocalToken(ctx context.Context, clientID, subject string) (*reciprocal.StoredToken, error) {
	t := reciprocal.StoredToken{ClientID: clientID, Subject: subject}
	var (
		expires sql.NullInt64
		updated int64
	)
	err := s.queryRow(ctx, "SELECT sealed, code_hash, scope, expires_at, updated_at FROM reciprocal_tokens WHERE client_id = ? AND subject = ?",
		clientID, subject).Scan(&t.Sealed, &t.CodeHash, &t.Scope, &expires, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, wrap(err, "read reciprocal token")
	}
	t.ExpiresAt, t.UpdatedAt = fromNanos(expires), fromNanos(sql.NullInt64{Int64: updated, Valid: true})
	return &t, nil
}

// DeleteReciprocalToken implements reciprocal.TokenStorage.
func (s *Store) DeleteReciprocalToken(ctx context.Context, clientID, subject string) error {
	n, err := s.execAffected(ctx, "DELETE FROM reciprocal_tokens WHERE client_id = ? AND subject = ?", clientID, subject)
	if err != nil {
		return wrap(err, "delete reciprocal token")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}
