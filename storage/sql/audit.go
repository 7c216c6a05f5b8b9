package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

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

// AppendAuditRecords implements audit.Storage with one INSERT of the whole batch that writes its rows
// only when the batch's first seq follows the newest stored record; the primary key settles two
// writers of the same seq: the statement of the loser fails as a whole and nothing of its batch is
// stored. Either way the answer is audit.ErrConflict. (Inside a PostgreSQL transaction a lost race
// therefore aborts the transaction.)
func (s *Store) AppendAuditRecords(ctx context.Context, recs []audit.Record) error {
	if err := audit.CheckBatch(recs); err != nil {
		return err
	}
	args := make([]any, 0, 2*len(recs)+1)
	var b strings.Builder
	b.WriteString("WITH batch (seq, token) AS (VALUES ")
	for i, r := range recs {
		if i == 0 {
			b.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT))")
		} else {
			b.WriteString(", (?, ?)")
		}
		args = append(args, r.Seq, r.Token)
	}
	b.WriteString(") INSERT INTO audit_records (seq, token) SELECT seq, token FROM batch WHERE (SELECT COALESCE(MAX(seq), 0) FROM audit_records) = ?")
	args = append(args, recs[0].Seq-1)
	n, err := s.execAffected(ctx, b.String(), args...)
	if isUniqueViolation(err) {
		return audit.ErrConflict
	} else if err != nil {
		return wrap(err, "append audit records")
	}
	if n != int64(len(recs)) {
		return audit.ErrConflict
	}
	return nil
}

// isUniqueViolation reports whether err is a violated primary key or unique constraint.
func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se interface{ Code() int }
	return errors.As(err, &se) && se.Code()&0xff == 19 // SQLITE_CONSTRAINT
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
