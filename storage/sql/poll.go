package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
)

var _ pending.PollStorage = (*Store)(nil)

// pollSet is the SET clause of a poll (RFC 8628 §3.5, CIBA §7.3), as in RecordPoll; its parameters are
// now, now, step, now.
const pollSet = `last_poll_slow_down = (last_polled_at IS NOT NULL AND ? < last_polled_at + interval_ns),
	interval_ns = CASE WHEN last_polled_at IS NOT NULL AND ? < last_polled_at + interval_ns THEN interval_ns + ? ELSE interval_ns END,
	last_polled_at = ?`

// pollWhere selects the grant a poll counts for: that kind and handle, pending, not expired at now,
// and issued to the client that polls. Its parameters are kind, handle, state, now, client ID.
const pollWhere = "kind = ? AND handle_signature = ? AND state = ? AND expires_at > ? AND client_id = ?"

// pollReturning is the PostgreSQL poll: the conditional UPDATE and, when it changed nothing (the grant
// is not pending, has expired, is another client's or is unknown), the row as it is — one statement,
// one round trip. Its commit is asynchronous (relaxedFrom): run only outside a caller's transaction.
// pollReturningStrict is the same inside one.
const (
	pollReturning       = pollReturningHead + relaxedFrom + pollReturningTail
	pollReturningStrict = pollReturningHead + pollReturningTail
	pollReturningHead   = "WITH polled AS (UPDATE pending_grants SET " + pollSet
	pollReturningTail   = " WHERE " + pollWhere +
		" RETURNING " + pendingColumns + ", last_poll_slow_down) " +
		"SELECT * FROM polled UNION ALL SELECT " + pendingColumns + ", FALSE FROM pending_grants " +
		"WHERE kind = ? AND handle_signature = ? AND NOT EXISTS (SELECT 1 FROM polled)"
)

// relaxedFrom makes the transaction of the statement it is part of commit asynchronously on
// PostgreSQL (SET LOCAL synchronous_commit TO OFF, as a FROM item of the statement, so that the
// statement stays one round trip). It is used only for bookkeeping outside any caller's transaction —
// a poll's time, an attempt counter: PostgreSQL then does not wait for the write-ahead log to reach the
// disk before answering. A crash of PostgreSQL (not of this server) can forget the last fraction of a
// second of such writes: a client may then poll once more without slow_down, a counter may miss a few
// attempts. Grants, decisions, redemptions and tokens keep the server's own synchronous_commit. Nothing
// is relaxed beyond the statement's own transaction (the setting is local to it).
const relaxedFrom = " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"

// pollPolled is pollWhere's test of a grant's own columns, in the numbered parameters of pollAlways:
// ?1 now, ?3 the pending state, ?4 the client ID.
const pollPolled = "(state = ?3 AND expires_at > ?1 AND client_id = ?4)"

// pollAlways is the SQLite poll (SQLite has no UPDATE in a WITH clause): one UPDATE of the grant with
// that kind and handle, whatever its state, that changes the poll's columns as pollSet does when the
// grant is polled (pollPolled) and otherwise writes them back as they were, and returns the row and
// whether it was polled. A grant in another state — a redemption's poll finds it approved — is so read
// in the same statement, not a second one. Parameters: ?1 now, ?2 step, ?3 the pending state, ?4 the
// client ID, ?5 kind, ?6 handle signature.
const pollAlways = "UPDATE pending_grants SET " +
	"last_poll_slow_down = CASE WHEN " + pollPolled + " THEN (last_polled_at IS NOT NULL AND ?1 < last_polled_at + interval_ns) ELSE last_poll_slow_down END, " +
	"interval_ns = CASE WHEN " + pollPolled + " AND last_polled_at IS NOT NULL AND ?1 < last_polled_at + interval_ns THEN interval_ns + ?2 ELSE interval_ns END, " +
	"last_polled_at = CASE WHEN " + pollPolled + " THEN ?1 ELSE last_polled_at END " +
	"WHERE kind = ?5 AND handle_signature = ?6 " +
	"RETURNING " + pendingColumns + ", last_poll_slow_down, " + pollPolled

// pollUpdate and pollRead are the SQLite poll in the writer (see writeThenRead): the conditional
// UPDATE, then the row as it is after it, in one transaction.
const (
	pollUpdate = "UPDATE pending_grants SET " + pollSet + " WHERE " + pollWhere
	pollRead   = "SELECT " + pendingColumns + ", last_poll_slow_down FROM pending_grants WHERE kind = ? AND handle_signature = ?"
)

// PollPendingGrant implements pending.PollStorage: it returns the grant with that handle and, when
// the grant is pending, not expired at now and issued to clientID, records the poll exactly as
// RecordPoll does, in the same statement on PostgreSQL: one statement, one round trip, whatever the
// grant's state. On SQLite the writer runs the conditional UPDATE and then reads the row, in one
// transaction (a RETURNING clause costs SQLite more than the second statement). The grant returned is
// the row after the poll was recorded.
func (s *Store) PollPendingGrant(ctx context.Context, kind pending.Kind, handleSignature, clientID string, now time.Time, step time.Duration, session fosite.Session) (*pending.Grant, bool, error) {
	t := now.UnixNano()
	var (
		sg           scannedGrant
		slow, polled bool
		err          error
	)
	if s.dialect == postgres {
		args := []any{t, t, int64(step), t, string(kind), handleSignature, string(pending.StatePending), t, clientID, string(kind), handleSignature}
		query := pollReturning
		if s.inTx(ctx) {
			query = pollReturningStrict
		}
		err = s.scanRow(ctx, query, args, sg.dest(&slow)...)
		polled = true // slow is FALSE for a row that was not polled
	} else {
		var ok bool
		ok, err = s.writeThenRead(ctx, func(tx *wtx) error {
			res, err := tx.exec(ctx, pollUpdate, t, t, int64(step), t, string(kind), handleSignature, string(pending.StatePending), t, clientID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			polled = n == 1
			return tx.scanRow(ctx, pollRead, []any{string(kind), handleSignature}, sg.dest(&slow)...)
		})
		if !ok {
			args := []any{t, int64(step), string(pending.StatePending), clientID, string(kind), handleSignature}
			err = s.scanRow(ctx, pollAlways, args, sg.dest(&slow, &polled)...)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, pending.ErrNotFound
	} else if err != nil {
		return nil, false, wrap(err, "poll pending grant")
	}
	g, err := s.decodeGrant(ctx, &sg, session)
	if err != nil {
		return nil, false, err
	}
	return g, slow && polled, nil
}
