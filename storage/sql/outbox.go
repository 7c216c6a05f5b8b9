package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fosite-contrib/grants/outbox"
)

var _ outbox.Storage = (*Store)(nil)

// outboxColumns are the columns scanOutbox reads, in its order.
const outboxColumns = "id, kind, target, sealed, created_at, not_before, max_attempts, state, attempts, next_attempt_at, last_error, lease, lease_until, finished_at"

// EnqueueOutbox implements outbox.Storage. Inside a transaction begun with BeginTX the message is
// stored if and only if the transaction commits.
func (s *Store) EnqueueOutbox(ctx context.Context, r outbox.Record) error {
	if r.ID == "" || r.Kind == "" || r.Target == "" || len(r.Sealed) == 0 {
		return errors.New("sqlstore: an outbox message needs an ID, a kind, a target and a sealed payload")
	}
	// ON CONFLICT DO NOTHING keeps a surrounding PostgreSQL transaction usable on a duplicate.
	n, err := s.execAffected(ctx, "INSERT INTO outbox_messages (id, kind, target, sealed, created_at, not_before, max_attempts, state, attempts, next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, '') ON CONFLICT DO NOTHING",
		r.ID, r.Kind, r.Target, r.Sealed, r.CreatedAt.UnixNano(), r.NotBefore.UnixNano(), int64(r.MaxAttempts),
		string(outbox.StatePending), r.NextAttemptAt.UnixNano())
	if err != nil {
		return wrap(err, "enqueue outbox message")
	}
	if n == 0 {
		return outbox.ErrDuplicate
	}
	return nil
}

// ClaimOutbox implements outbox.Storage with one conditional UPDATE ... RETURNING, so concurrent
// claimers (in any number of processes) never take the same message; on PostgreSQL the candidates are
// selected FOR UPDATE SKIP LOCKED, so claimers skip each other's rows instead of waiting.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]outbox.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	if s.w != nil && !s.inTx(ctx) {
		// SQLite: the claim changes rows, so it runs in the writer like every write.
		var out []outbox.Record
		err := s.withTx(ctx, func(ctx context.Context) (err error) {
			out, err = s.ClaimOutbox(ctx, now, limit, lease)
			return err
		})
		return out, err
	}
	t := now.UnixNano()
	if _, err := s.exec(ctx, "UPDATE outbox_messages SET state = ?, finished_at = ?, lease = NULL, lease_until = NULL, "+
		"last_error = CASE WHEN last_error = '' THEN 'lease of the last attempt expired' ELSE last_error END "+
		"WHERE state = ? AND attempts >= max_attempts AND (lease_until IS NULL OR lease_until <= ?)",
		string(outbox.StateFailed), t, string(outbox.StatePending), t); err != nil {
		return nil, wrap(err, "fail exhausted outbox messages")
	}

	var b [16]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	due := "SELECT id FROM outbox_messages WHERE state = ? AND next_attempt_at <= ? AND attempts < max_attempts AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?"
	args := []any{token, now.Add(lease).UnixNano(), string(outbox.StatePending), t, t, int64(limit)}
	var query string
	if s.dialect == postgres {
		// The candidates are chosen once, in a CTE: as a subquery in the WHERE clause PostgreSQL may
		// run the SELECT again after locking, and return more than limit rows. SKIP LOCKED makes
		// concurrent claimers pass over each other's rows instead of waiting.
		cols := "m." + strings.ReplaceAll(outboxColumns, ", ", ", m.")
		query = "WITH due AS (" + due + " FOR UPDATE SKIP LOCKED) " +
			"UPDATE outbox_messages AS m SET attempts = m.attempts + 1, lease = ?, lease_until = ? FROM due WHERE m.id = due.id RETURNING " + cols
		args = append(args[2:6:6], args[0], args[1])
	} else {
		// SQLite runs one writer at a time, so one UPDATE of the chosen rows is atomic.
		query = "UPDATE outbox_messages SET attempts = attempts + 1, lease = ?, lease_until = ? WHERE id IN (" + due + ") RETURNING " + outboxColumns
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "claim outbox messages")
	}
	defer func() { _ = rows.Close() }()
	var out []outbox.Record
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "claim outbox messages")
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttemptAt.Equal(out[j].NextAttemptAt) {
			return out[i].NextAttemptAt.Before(out[j].NextAttemptAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// CompleteOutbox implements outbox.Storage: the state change (conditional on the lease) and the
// attempt row are written in one transaction (the caller's, when ctx carries one).
func (s *Store) CompleteOutbox(ctx context.Context, id string, a outbox.Attempt) error {
	var state outbox.State
	finished := sql.NullInt64{}
	next := sql.NullInt64{}
	switch a.Outcome {
	case outbox.OutcomeDelivered:
		state, finished = outbox.StateDelivered, nanos(a.At)
	case outbox.OutcomeFailed:
		state, finished = outbox.StateFailed, nanos(a.At)
	case outbox.OutcomeRetry:
		state, next = outbox.StatePending, nanos(a.NextAttemptAt)
	default:
		return fmt.Errorf("sqlstore: unknown outbox attempt outcome %q", a.Outcome)
	}
	if a.Lease == "" {
		return outbox.ErrLeaseLost
	}

	return s.withTx(ctx, func(ctx context.Context) error {
		n, err := s.execAffected(ctx, "UPDATE outbox_messages SET state = ?, finished_at = ?, next_attempt_at = COALESCE(?, next_attempt_at), "+
			"last_error = ?, lease = NULL, lease_until = NULL WHERE id = ? AND state = ? AND lease = ?",
			string(state), finished, next, a.Error, id, string(outbox.StatePending), a.Lease)
		if err != nil {
			return wrap(err, "complete outbox message")
		}
		if n == 0 {
			var one int
			switch err := s.queryRow(ctx, "SELECT 1 FROM outbox_messages WHERE id = ?", id).Scan(&one); {
			case errors.Is(err, sql.ErrNoRows):
				return outbox.ErrNotFound
			case err != nil:
				return wrap(err, "read outbox message")
			}
			return outbox.ErrLeaseLost
		}
		if _, err := s.exec(ctx, "INSERT INTO outbox_attempts (message_id, number, lease, started_at, finished_at, outcome, status_code, error, next_attempt_at) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			id, int64(a.Number), a.Lease, a.StartedAt.UnixNano(), a.At.UnixNano(), string(a.Outcome), int64(a.StatusCode), a.Error, next); err != nil {
			return wrap(err, "record outbox attempt")
		}
		return nil
	})
}

// GetOutbox implements outbox.Storage.
func (s *Store) GetOutbox(ctx context.Context, id string) (outbox.Record, error) {
	rows, err := s.query(ctx, "SELECT "+outboxColumns+" FROM outbox_messages WHERE id = ?", id)
	if err != nil {
		return outbox.Record{}, wrap(err, "read outbox message")
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return outbox.Record{}, wrap(err, "read outbox message")
		}
		return outbox.Record{}, outbox.ErrNotFound
	}
	return scanOutbox(rows)
}

// ListOutboxAttempts implements outbox.Storage.
func (s *Store) ListOutboxAttempts(ctx context.Context, id string) ([]outbox.Attempt, error) {
	rows, err := s.query(ctx, "SELECT message_id, number, lease, started_at, finished_at, outcome, status_code, error, next_attempt_at FROM outbox_attempts WHERE message_id = ? ORDER BY number", id)
	if err != nil {
		return nil, wrap(err, "list outbox attempts")
	}
	defer func() { _ = rows.Close() }()
	var out []outbox.Attempt
	for rows.Next() {
		var (
			a                       outbox.Attempt
			number, started, at, sc int64
			outcome                 string
			next                    sql.NullInt64
		)
		if err := rows.Scan(&a.MessageID, &number, &a.Lease, &started, &at, &outcome, &sc, &a.Error, &next); err != nil {
			return nil, wrap(err, "list outbox attempts")
		}
		a.Number, a.StatusCode, a.Outcome = int(number), int(sc), outbox.Outcome(outcome)
		a.StartedAt, a.At, a.NextAttemptAt = time.Unix(0, started).UTC(), time.Unix(0, at).UTC(), fromNanos(next)
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "list outbox attempts")
}

func scanOutbox(rows *sql.Rows) (outbox.Record, error) {
	var (
		r                               outbox.Record
		state                           string
		created, notBefore, maxAtt, att int64
		next                            int64
		lease                           sql.NullString
		leaseUntil, finished            sql.NullInt64
	)
	if err := rows.Scan(&r.ID, &r.Kind, &r.Target, &r.Sealed, &created, &notBefore, &maxAtt, &state, &att, &next, &r.LastError, &lease, &leaseUntil, &finished); err != nil {
		return outbox.Record{}, wrap(err, "read outbox message")
	}
	r.State, r.MaxAttempts, r.Attempts, r.Lease = outbox.State(state), int(maxAtt), int(att), lease.String
	r.CreatedAt, r.NotBefore, r.NextAttemptAt = time.Unix(0, created).UTC(), time.Unix(0, notBefore).UTC(), time.Unix(0, next).UTC()
	r.LeaseUntil, r.FinishedAt = fromNanos(leaseUntil), fromNanos(finished)
	return r, nil
}
