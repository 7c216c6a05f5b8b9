package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

var _ smschannel.Store = (*Store)(nil)

// CreateSMSBinding implements smschannel.Store with one upsert (table ciba_sms_bindings, migration
// 00100) that takes over an existing signature only when its row has expired at now.
func (s *Store) CreateSMSBinding(ctx context.Context, b *smschannel.Binding, now time.Time) error {
	if b == nil || b.Signature == "" {
		return errors.New("sqlstore: an SMS binding needs a signature")
	}
	scopes, err := json.Marshal(append([]string{}, b.Scopes...))
	if err != nil {
		return fmt.Errorf("sqlstore: encode SMS binding scopes: %w", err)
	}
	n, err := s.execAffected(ctx, "INSERT INTO ciba_sms_bindings (signature, ref, subject, client_id, client_name, scopes, locale, created_at, expires_at, used_at, outcome) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (signature) DO UPDATE SET ref = excluded.ref, subject = excluded.subject, "+
		"client_id = excluded.client_id, client_name = excluded.client_name, scopes = excluded.scopes, locale = excluded.locale, "+
		"created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at, outcome = excluded.outcome "+
		"WHERE ciba_sms_bindings.expires_at <= ?",
		b.Signature, b.Ref, b.Subject, b.ClientID, b.ClientName, string(scopes), b.Locale,
		b.CreatedAt.UnixNano(), b.ExpiresAt.UnixNano(), nanos(b.UsedAt), b.Outcome, now.UnixNano())
	if err != nil {
		return wrap(err, "create SMS binding")
	}
	if n == 0 {
		return smschannel.ErrCodeTaken
	}
	return nil
}

// GetSMSBinding implements smschannel.Store.
func (s *Store) GetSMSBinding(ctx context.Context, signature string) (*smschannel.Binding, error) {
	var (
		b                smschannel.Binding
		scopes           string
		created, expires int64
		used             sql.NullInt64
	)
	err := s.queryRow(ctx, "SELECT signature, ref, subject, client_id, client_name, scopes, locale, created_at, expires_at, used_at, outcome FROM ciba_sms_bindings WHERE signature = ?", signature).
		Scan(&b.Signature, &b.Ref, &b.Subject, &b.ClientID, &b.ClientName, &scopes, &b.Locale, &created, &expires, &used, &b.Outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, smschannel.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err, "read SMS binding")
	}
	if err := json.Unmarshal([]byte(scopes), &b.Scopes); err != nil {
		return nil, fmt.Errorf("sqlstore: decode SMS binding scopes: %w", err)
	}
	b.CreatedAt, b.ExpiresAt, b.UsedAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC(), fromNanos(used)
	return &b, nil
}

// UseSMSBinding implements smschannel.Store with one conditional UPDATE (unused and not expired), so
// that of concurrent uses exactly one succeeds.
func (s *Store) UseSMSBinding(ctx context.Context, signature string, now time.Time, outcome string) error {
	n, err := s.execAffected(ctx, "UPDATE ciba_sms_bindings SET used_at = ?, outcome = ? WHERE signature = ? AND used_at IS NULL AND expires_at > ?",
		now.UnixNano(), outcome, signature, now.UnixNano())
	if err != nil {
		return wrap(err, "use SMS binding")
	}
	if n == 1 {
		return nil
	}
	var one int
	switch err := s.queryRow(ctx, "SELECT 1 FROM ciba_sms_bindings WHERE signature = ?", signature).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return smschannel.ErrNotFound
	case err != nil:
		return wrap(err, "use SMS binding")
	}
	return smschannel.ErrUsed
}
