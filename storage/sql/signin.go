package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/signin"
)

var _ signin.Storage = (*Store)(nil)

// CreateSignInSession implements signin.Storage with one INSERT; a second session with the same hash
// fails on the primary key and changes nothing.
func (s *Store) CreateSignInSession(ctx context.Context, sess *signin.Session) error {
	if sess == nil || sess.IDHash == "" || sess.Subject == "" {
		return errors.New("sqlstore: a sign-in session needs an ID hash and a subject")
	}
	_, err := s.exec(ctx, "INSERT INTO signin_sessions (id_hash, subject, auth_time, expires_at) VALUES (?, ?, ?, ?)",
		sess.IDHash, sess.Subject, sess.AuthTime.UnixNano(), sess.ExpiresAt.UnixNano())
	return wrap(err, "create sign-in session")
}

// GetSignInSession implements signin.Storage.
func (s *Store) GetSignInSession(ctx context.Context, idHash string, now time.Time) (*signin.Session, error) {
	sess := signin.Session{IDHash: idHash}
	var authTime, expires int64
	err := s.queryRow(ctx, "SELECT subject, auth_time, expires_at FROM signin_sessions WHERE id_hash = ? AND expires_at > ?",
		idHash, now.UnixNano()).Scan(&sess.Subject, &authTime, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, wrap(err, "read sign-in session")
	}
	sess.AuthTime, sess.ExpiresAt = time.Unix(0, authTime).UTC(), time.Unix(0, expires).UTC()
	return &sess, nil
}

// DeleteSignInSession implements signin.Storage.
func (s *Store) DeleteSignInSession(ctx context.Context, idHash string) error {
	_, err := s.exec(ctx, "DELETE FROM signin_sessions WHERE id_hash = ?", idHash)
	return wrap(err, "delete sign-in session")
}
