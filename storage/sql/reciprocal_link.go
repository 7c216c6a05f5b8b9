package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

var _ reciprocal.LinkStorage = (*Store)(nil)

// SetReciprocalLink implements reciprocal.LinkStorage with one upsert (table reciprocal_links,
// migration 00100). The partner client must exist (deleting the client deletes its links).
func (s *Store) SetReciprocalLink(ctx context.Context, l *reciprocal.StoredLink) error {
	if l == nil || l.ClientID == "" || l.Subject == "" || len(l.Sealed) == 0 {
		return errors.New("sqlstore: a reciprocal link needs a client ID, a subject and a sealed token")
	}
	granted, err := json.Marshal(append([]string{}, l.Granted...))
	if err != nil {
		return fmt.Errorf("sqlstore: encode reciprocal link scopes: %w", err)
	}
	_, err = s.exec(ctx, "INSERT INTO reciprocal_links (client_id, subject, sealed, asked, request_id, granted, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "+
		"ON CONFLICT (client_id, subject) DO UPDATE SET sealed = excluded.sealed, asked = excluded.asked, request_id = excluded.request_id, "+
		"granted = excluded.granted, updated_at = excluded.updated_at",
		l.ClientID, l.Subject, l.Sealed, l.Asked, l.RequestID, string(granted), l.UpdatedAt.UnixNano())
	return wrap(err, "set reciprocal link")
}

// GetReciprocalLink implements reciprocal.LinkStorage.
func (s *Store) GetReciprocalLink(ctx context.Context, clientID, subject string) (*reciprocal.StoredLink, error) {
	l := reciprocal.StoredLink{ClientID: clientID, Subject: subject}
	var (
		granted string
		updated int64
	)
	err := s.queryRow(ctx, "SELECT sealed, asked, request_id, granted, updated_at FROM reciprocal_links WHERE client_id = ? AND subject = ?",
		clientID, subject).Scan(&l.Sealed, &l.Asked, &l.RequestID, &granted, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, wrap(err, "read reciprocal link")
	}
	if err := json.Unmarshal([]byte(granted), &l.Granted); err != nil {
		return nil, fmt.Errorf("sqlstore: decode reciprocal link scopes: %w", err)
	}
	l.UpdatedAt = time.Unix(0, updated).UTC()
	return &l, nil
}

// DeleteReciprocalLink implements reciprocal.LinkStorage.
func (s *Store) DeleteReciprocalLink(ctx context.Context, clientID, subject string) error {
	n, err := s.execAffected(ctx, "DELETE FROM reciprocal_links WHERE client_id = ? AND subject = ?", clientID, subject)
	if err != nil {
		return wrap(err, "delete reciprocal link")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}
