package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
)

var _ ciba.UserCodeStorage = (*Store)(nil)

// SetCIBAUserCode implements ciba.UserCodeStorage with one upsert (table ciba_user_codes, migration
// 00100).
func (s *Store) SetCIBAUserCode(ctx context.Context, subject, hash string, now time.Time) error {
	if subject == "" || hash == "" {
		return errors.New("sqlstore: a CIBA user code needs a subject and a hash")
	}
	_, err := s.exec(ctx, "INSERT INTO ciba_user_codes (subject, code_hash, updated_at) VALUES (?, ?, ?) "+
		"ON CONFLICT (subject) DO UPDATE SET code_hash = excluded.code_hash, updated_at = excluded.updated_at",
		subject, hash, now.UnixNano())
	return wrap(err, "set CIBA user code")
}

// GetCIBAUserCode implements ciba.UserCodeStorage.
func (s *Store) GetCIBAUserCode(ctx context.Context, subject string) (string, error) {
	var h string
	err := s.queryRow(ctx, "SELECT code_hash FROM ciba_user_codes WHERE subject = ?", subject).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fosite.ErrNotFound
	}
	return h, wrap(err, "read CIBA user code")
}

// DeleteCIBAUserCode implements ciba.UserCodeStorage.
func (s *Store) DeleteCIBAUserCode(ctx context.Context, subject string) error {
	n, err := s.execAffected(ctx, "DELETE FROM ciba_user_codes WHERE subject = ?", subject)
	if err != nil {
		return wrap(err, "delete CIBA user code")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}
