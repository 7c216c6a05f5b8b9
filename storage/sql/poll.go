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
// one round trip.
const pollReturning = "WITH polled AS (UPDATE pending_grants SET " + pollSet + " WHERE " + pollWhere +
	" RETURNING " + pendingColumns + ", last_poll_slow_down) " +
	"SELECT * FROM polled UNION ALL SELECT " + pendingColumns + ", FALSE FROM pending_grants " +
	"WHERE kind = ? AND handle_signature = ? AND NOT EXISTS (SELECT 1 FROM polled)"

// pollUpdate is the SQLite poll of a pending grant: SQLite has no UPDATE in a WITH clause, so a grant
// in another state is read with a second statement.
const pollUpdate = "UPDATE pending_grants SET " + pollSet + " WHERE " + pollWhere + " RETURNING " + pendingColumns + ", last_poll_slow_down"

// PollPendingGrant implements pending.PollStorage: it returns the grant with that handle and, when
// the grant is pending, not expired at now and issued to clientID, records the poll exactly as
// RecordPoll does, in the same statement. On PostgreSQL that is one statement whatever the grant's
// state; on SQLite a grant that is not polled (approved, denied, consumed, expired, another client's)
// takes a second statement to read. The grant returned is the row after the poll was recorded.
func (s *Store) PollPendingGrant(ctx context.Context, kind pending.Kind, handleSignature, clientID string, now time.Time, step time.Duration, session fosite.Session) (*pending.Grant, bool, error) {
	t := now.UnixNano()
	args := []any{t, t, int64(step), t, string(kind), handleSignature, string(pending.StatePending), t, clientID}
	var (
		sg   scannedGrant
		slow bool
	)
	query := pollUpdate
	if s.dialect == postgres {
		query = pollReturning
		args = append(args, string(kind), handleSignature)
	}
	err := s.scanRow(ctx, query, args, sg.dest(&slow)...)
	if errors.Is(err, sql.ErrNoRows) {
		if s.dialect == postgres {
			return nil, false, pending.ErrNotFound
		}
		g, err := s.GetPendingGrant(ctx, kind, handleSignature, session)
		return g, false, err
	} else if err != nil {
		return nil, false, wrap(err, "poll pending grant")
	}
	g, err := s.decodeGrant(ctx, &sg, session)
	if err != nil {
		return nil, false, err
	}
	return g, slow, nil
}
