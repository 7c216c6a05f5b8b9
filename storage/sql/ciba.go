package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
)

var _ ciba.RecordStorage = (*Store)(nil)

const cibaColumns = "ref, handle_signature, subject, client_id, mode, notification_endpoint, sealed_token, sealed_auth_req_id, created_at, expires_at, notified"

// CreateCIBARecord implements ciba.RecordStorage.
func (s *Store) CreateCIBARecord(ctx context.Context, r *ciba.Record) error {
	if r == nil || r.Ref == "" || r.HandleSignature == "" {
		return errors.New("sqlstore: a CIBA record needs a reference and a handle signature")
	}
	notified := 0
	if r.Notified {
		notified = 1
	}
	n, err := s.execAffected(ctx, "INSERT INTO ciba_requests ("+cibaColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		r.Ref, r.HandleSignature, r.Subject, r.ClientID, string(r.Mode), r.NotificationEndpoint, r.SealedToken, r.SealedAuthReqID,
		r.CreatedAt.UnixNano(), r.ExpiresAt.UnixNano(), notified)
	if err != nil {
		return wrap(err, "create CIBA record")
	}
	if n == 0 {
		return pending.ErrCollision
	}
	return nil
}

type cibaScanner interface{ Scan(dest ...any) error }

func scanCIBARecord(row cibaScanner) (*ciba.Record, error) {
	var (
		r                ciba.Record
		mode             string
		created, expires int64
		notified         int64
	)
	if err := row.Scan(&r.Ref, &r.HandleSignature, &r.Subject, &r.ClientID, &mode, &r.NotificationEndpoint, &r.SealedToken, &r.SealedAuthReqID,
		&created, &expires, &notified); err != nil {
		return nil, err
	}
	r.Mode = ciba.DeliveryMode(mode)
	r.CreatedAt, r.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	r.Notified = notified != 0
	if len(r.SealedToken) == 0 {
		r.SealedToken = nil
	}
	if len(r.SealedAuthReqID) == 0 {
		r.SealedAuthReqID = nil
	}
	return &r, nil
}

// GetCIBARecord implements ciba.RecordStorage.
func (s *Store) GetCIBARecord(ctx context.Context, ref string) (*ciba.Record, error) {
	r, err := scanCIBARecord(s.queryRow(ctx, "SELECT "+cibaColumns+" FROM ciba_requests WHERE ref = ?", ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pending.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err, "read CIBA record")
	}
	return r, nil
}

func (s *Store) listCIBARecords(ctx context.Context, what, where string, args ...any) ([]*ciba.Record, error) {
	rows, err := s.query(ctx, "SELECT "+cibaColumns+" FROM ciba_requests WHERE "+where, args...)
	if err != nil {
		return nil, wrap(err, what)
	}
	defer rows.Close()
	out := []*ciba.Record{}
	for rows.Next() {
		r, err := scanCIBARecord(rows)
		if err != nil {
			return nil, wrap(err, what)
		}
		out = append(out, r)
	}
	return out, wrap(rows.Err(), what)
}

// ListCIBARecordsBySubject implements ciba.RecordStorage.
func (s *Store) ListCIBARecordsBySubject(ctx context.Context, subject string, now time.Time) ([]*ciba.Record, error) {
	if subject == "" {
		return []*ciba.Record{}, nil
	}
	return s.listCIBARecords(ctx, "list CIBA records", "subject = ? AND expires_at > ? ORDER BY created_at, ref LIMIT 100", subject, now.UnixNano())
}

// ListExpiredCIBARecords implements ciba.RecordStorage.
func (s *Store) ListExpiredCIBARecords(ctx context.Context, now time.Time, limit int) ([]*ciba.Record, error) {
	if limit == 0 {
		return []*ciba.Record{}, nil
	}
	if limit < 0 {
		limit = 1 << 30
	}
	return s.listCIBARecords(ctx, "list expired CIBA records", "mode = ? AND notified = 0 AND expires_at <= ? ORDER BY created_at, ref LIMIT ?",
		string(ciba.ModePush), now.UnixNano(), limit)
}

// MarkCIBARecordNotified implements ciba.RecordStorage with one conditional UPDATE, so that of
// concurrent calls exactly one succeeds.
func (s *Store) MarkCIBARecordNotified(ctx context.Context, ref string) error {
	n, err := s.execAffected(ctx, "UPDATE ciba_requests SET notified = 1 WHERE ref = ? AND notified = 0", ref)
	if err != nil {
		return wrap(err, "mark CIBA record notified")
	}
	if n == 1 {
		return nil
	}
	var one int
	switch err := s.queryRow(ctx, "SELECT 1 FROM ciba_requests WHERE ref = ?", ref).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return pending.ErrNotFound
	case err != nil:
		return wrap(err, "mark CIBA record notified")
	}
	return pending.ErrStateChanged
}

// PurgeCIBARecords deletes the CIBA records that expired before before and returns how many, in
// batches like Purge.
func (s *Store) PurgeCIBARecords(ctx context.Context, before time.Time) (int, error) {
	st := purgeStep{"CIBA records", "ciba_requests", "ref", "expires_at < ?", before.UnixNano()}
	return s.purgeBatches(ctx, st.what, s.purgeQuery(st), st.before)
}
