package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fosite-contrib/grants/audit"
)

// LastAuditRecord implements audit.Storage.
func (s *Store) LastAuditRecord(ctx context.Context) (int64, string, error) {
	var (
		seq   int64
		token string
	)
	err := s.queryRow(ctx, "SELECT seq, token FROM audit_records ORDER BY seq DESC LIMIT 1").Scan(&seq, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	} else if err != nil {
		return 0, "", wrap(err, "read last audit record")
	}
	return seq, token, nil
}

// AppendAuditRecords implements audit.Storage: in one transaction, one conditional INSERT per record,
// each written only when its seq follows the newest stored record; the primary key settles two writers
// of the same seq. A batch that loses on any record is rolled back whole.
func (s *Store) AppendAuditRecords(ctx context.Context, recs []audit.Record) error {
	if err := audit.CheckBatch(recs); err != nil {
		return err
	}
	appendAll := func(ctx context.Context) error {
		for _, r := range recs {
			n, err := s.execAffected(ctx, `INSERT INTO audit_records (seq, token)
				SELECT CAST(? AS BIGINT), CAST(? AS TEXT) WHERE (SELECT COALESCE(MAX(seq), 0) FROM audit_records) = ?
				ON CONFLICT (seq) DO NOTHING`, r.Seq, r.Token, r.Seq-1)
			if err != nil {
				return wrap(err, "append audit record")
			}
			if n == 0 {
				return audit.ErrConflict
			}
		}
		return nil
	}
	if len(recs) == 1 {
		return appendAll(ctx) // one statement: atomic on its own
	}
	return s.withTx(ctx, appendAll)
}

// ListAuditRecords implements audit.Storage.
func (s *Store) ListAuditRecords(ctx context.Context, afterSeq int64, limit int) ([]audit.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlstore: audit list limit %d is not positive", limit)
	}
	rows, err := s.query(ctx, "SELECT seq, token FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
	if err != nil {
		return nil, wrap(err, "list audit records")
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var r audit.Record
		if err := rows.Scan(&r.Seq, &r.Token); err != nil {
			return nil, wrap(err, "list audit records")
		}
		out = append(out, r)
	}
	return out, wrap(rows.Err(), "list audit records")
}
