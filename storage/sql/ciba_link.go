package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
)

var _ linkchannel.Store = (*Store)(nil)

// CreateCIBALink implements linkchannel.Store.
func (s *Store) CreateCIBALink(ctx context.Context, l *linkchannel.Link) error {
	if l == nil || l.Signature == "" {
		return errors.New("sqlstore: a CIBA link needs a signature")
	}
	scopes, err := json.Marshal(append([]string{}, l.Scopes...))
	if err != nil {
		return fmt.Errorf("sqlstore: encode CIBA link scopes: %w", err)
	}
	_, err = s.exec(ctx, "INSERT INTO ciba_links (signature, ref, subject, client_id, client_name, scopes, binding_message, locale, created_at, expires_at, used_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		l.Signature, l.Ref, l.Subject, l.ClientID, l.ClientName, string(scopes), l.BindingMessage, l.Locale,
		l.CreatedAt.UnixNano(), l.ExpiresAt.UnixNano(), nanos(l.UsedAt), l.Outcome)
	return wrap(err, "create CIBA link")
}

// GetCIBALink implements linkchannel.Store.
func (s *Store) GetCIBALink(ctx context.Context, signature string) (*linkchannel.Link, error) {
	var (
		l                linkchannel.Link
		scopes           string
		created, expires int64
		used             sql.NullInt64
	)
	err := s.queryRow(ctx, "SELECT signature, ref, subject, client_id, client_name, scopes, binding_message, locale, created_at, expires_at, used_at, outcome FROM ciba_links WHERE signature = ?", signature).
		Scan(&l.Signature, &l.Ref, &l.Subject, &l.ClientID, &l.ClientName, &scopes, &l.BindingMessage, &l.Locale, &created, &expires, &used, &l.Outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, linkchannel.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err, "read CIBA link")
	}
	if err := json.Unmarshal([]byte(scopes), &l.Scopes); err != nil {
		return nil, fmt.Errorf("sqlstore: decode CIBA link scopes: %w", err)
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC(), fromNanos(used)
	return &l, nil
}

// UseCIBALink implements linkchannel.Store with one conditional UPDATE (unused and not expired), so
// that of concurrent uses exactly one succeeds.
func (s *Store) UseCIBALink(ctx context.Context, signature string, now time.Time, outcome string) error {
	n, err := s.execAffected(ctx, "UPDATE ciba_links SET used_at = ?, outcome = ? WHERE signature = ? AND used_at IS NULL AND expires_at > ?",
		now.UnixNano(), outcome, signature, now.UnixNano())
	if err != nil {
		return wrap(err, "use CIBA link")
	}
	if n == 1 {
		return nil
	}
	var one int
	switch err := s.queryRow(ctx, "SELECT 1 FROM ciba_links WHERE signature = ?", signature).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return linkchannel.ErrNotFound
	case err != nil:
		return wrap(err, "use CIBA link")
	}
	return linkchannel.ErrUsed
}
