package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
)

// pendingColumns are the columns GetPendingGrant reads, in the order scanGrant expects.
const pendingColumns = "kind, handle_signature, user_code_signature, " + requestColumns +
	", state, created_at, expires_at, interval_ns, last_polled_at, subject, actor, decided_at, login_hint, device_remote_addr, device_user_agent, extra" +
	", code_sent_at, resend_interval_ns, callback_endpoint, callback_token, callback_handle, callback_on_expiry, callback_notified"

// CreatePendingGrant implements pending.Storage. The handle is the primary key (per kind); a user code
// is unique per kind among grants that have not expired: a new grant takes a user code from an expired
// holder, whose record keeps everything but the user-code signature. Usually that is one INSERT; only
// when it collides is an expired holder's user code released and the INSERT tried once more.
func (s *Store) CreatePendingGrant(ctx context.Context, g *pending.Grant) error {
	if g == nil || g.Kind == "" || g.HandleSignature == "" {
		return errors.New("sqlstore: a pending grant needs a kind and a handle signature")
	}
	e, err := encodeRequest(g.Request)
	if err != nil {
		return err
	}
	extra, err := encodeExtra(g.Extra)
	if err != nil {
		return err
	}
	userCode := sql.NullString{String: g.UserCodeSignature, Valid: g.UserCodeSignature != ""}
	args := append([]any{string(g.Kind), g.HandleSignature, userCode}, e.args()...)
	args = append(args, string(g.State), g.CreatedAt.UnixNano(), g.ExpiresAt.UnixNano(), int64(g.Interval), nanos(g.LastPolledAt),
		g.Subject, g.Actor, nanos(g.DecidedAt), g.LoginHint, g.Device.RemoteAddr, g.Device.UserAgent, extra,
		nanos(g.CodeSentAt), int64(g.ResendInterval))
	args = append(args, callbackArgs(g.Callback)...)
	// ON CONFLICT DO NOTHING covers both the handle and the user code, and (unlike a failed insert)
	// leaves a surrounding PostgreSQL transaction usable.
	insert := "INSERT INTO pending_grants (" + pendingColumns + ") VALUES (" + placeholders(len(args)) + ") ON CONFLICT DO NOTHING"
	n, err := s.execAffected(ctx, insert, args...)
	if err != nil {
		return wrap(err, "create pending grant")
	}
	if n == 0 && userCode.Valid {
		released, err := s.execAffected(ctx, "UPDATE pending_grants SET user_code_signature = NULL WHERE kind = ? AND user_code_signature = ? AND expires_at <= ?",
			string(g.Kind), g.UserCodeSignature, g.CreatedAt.UnixNano())
		if err != nil {
			return wrap(err, "release expired user code")
		}
		if released > 0 {
			if n, err = s.execAffected(ctx, insert, args...); err != nil {
				return wrap(err, "create pending grant")
			}
		}
	}
	if n == 0 {
		return pending.ErrCollision
	}
	return nil
}

func encodeExtra(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode pending grant extra: %w", err)
	}
	return string(b), nil
}

// scannedGrant receives one row of pendingColumns.
type scannedGrant struct {
	g                          pending.Grant
	kind, state, extra         string
	userCode                   sql.NullString
	r                          scannedRequest
	created, expires, interval int64
	lastPolled, decided        sql.NullInt64
	codeSent                   sql.NullInt64
	resendInterval             int64
	cb                         scannedCallback
}

// dest returns the scan destinations of pendingColumns, followed by extra.
func (sg *scannedGrant) dest(extra ...any) []any {
	g := &sg.g
	dest := make([]any, 0, 40)
	dest = append(dest, &sg.kind, &g.HandleSignature, &sg.userCode)
	dest = append(dest, sg.r.dest()...)
	dest = append(dest, &sg.state, &sg.created, &sg.expires, &sg.interval, &sg.lastPolled, &g.Subject, &g.Actor, &sg.decided,
		&g.LoginHint, &g.Device.RemoteAddr, &g.Device.UserAgent, &sg.extra, &sg.codeSent, &sg.resendInterval)
	dest = append(dest, sg.cb.dest()...)
	return append(dest, extra...)
}

// decode rebuilds the grant from the scanned row, its request's session read into session.
func (s *Store) decodeGrant(ctx context.Context, sg *scannedGrant, session fosite.Session) (*pending.Grant, error) {
	req, err := s.decodeRequest(ctx, &sg.r, session)
	if err != nil {
		return nil, err
	}
	g := &sg.g
	g.Kind, g.State, g.UserCodeSignature, g.Request = pending.Kind(sg.kind), pending.State(sg.state), sg.userCode.String, req
	g.CreatedAt, g.ExpiresAt = time.Unix(0, sg.created).UTC(), time.Unix(0, sg.expires).UTC()
	g.Interval, g.LastPolledAt, g.DecidedAt = time.Duration(sg.interval), fromNanos(sg.lastPolled), fromNanos(sg.decided)
	g.CodeSentAt, g.ResendInterval = fromNanos(sg.codeSent), time.Duration(sg.resendInterval)
	g.Callback = sg.cb.callback()
	if sg.extra != "" && sg.extra != "{}" {
		if err := json.Unmarshal([]byte(sg.extra), &g.Extra); err != nil {
			return nil, fmt.Errorf("sqlstore: decode pending grant extra: %w", err)
		}
	}
	return g, nil
}

// scanGrant reads one row of pendingColumns.
func (s *Store) scanGrant(ctx context.Context, row rowScanner, session fosite.Session) (*pending.Grant, error) {
	var sg scannedGrant
	if err := row.Scan(sg.dest()...); errors.Is(err, sql.ErrNoRows) {
		return nil, pending.ErrNotFound
	} else if err != nil {
		return nil, wrap(err, "read pending grant")
	}
	return s.decodeGrant(ctx, &sg, session)
}

// GetPendingGrant implements pending.Storage.
func (s *Store) GetPendingGrant(ctx context.Context, kind pending.Kind, handleSignature string, session fosite.Session) (*pending.Grant, error) {
	return s.scanGrant(ctx, s.queryRow(ctx, "SELECT "+pendingColumns+" FROM pending_grants WHERE kind = ? AND handle_signature = ?",
		string(kind), handleSignature), session)
}

// queryByUserCode finds a grant by user code (the partial unique index pending_grants_user_code: a
// user_code_signature = ? term implies IS NOT NULL to both databases).
const queryByUserCode = "SELECT " + pendingColumns + " FROM pending_grants WHERE kind = ? AND user_code_signature = ? AND expires_at > ?"

// GetPendingGrantByUserCode implements pending.Storage.
func (s *Store) GetPendingGrantByUserCode(ctx context.Context, kind pending.Kind, userCodeSignature string, now time.Time, session fosite.Session) (*pending.Grant, error) {
	if userCodeSignature == "" {
		return nil, pending.ErrNotFound
	}
	return s.scanGrant(ctx, s.queryRow(ctx, queryByUserCode, string(kind), userCodeSignature, now.UnixNano()), session)
}

// DecidePendingGrant implements pending.Storage with one conditional UPDATE (state = pending and not
// expired), so that of concurrent decisions exactly one is taken.
func (s *Store) DecidePendingGrant(ctx context.Context, kind pending.Kind, handleSignature string, d pending.Decision, now time.Time) error {
	var (
		n   int64
		err error
	)
	if d.Approved {
		session := "null"
		if d.Session != nil {
			b, err := json.Marshal(d.Session)
			if err != nil {
				return fmt.Errorf("sqlstore: encode session of decision: %w", err)
			}
			session = string(b)
		}
		n, err = s.execAffected(ctx, `UPDATE pending_grants SET state = ?, subject = ?, actor = ?, decided_at = ?, session_data = ?,
			granted_scopes = ?, granted_audience = ?, expires_at = COALESCE(?, expires_at)
			WHERE kind = ? AND handle_signature = ? AND state = ? AND expires_at > ?`,
			string(pending.StateApproved), d.Subject, d.Actor, now.UnixNano(), session, jsonList(d.GrantedScopes), jsonList(d.GrantedAudience),
			nanos(d.ExpiresAt), string(kind), handleSignature, string(pending.StatePending), now.UnixNano())
	} else {
		n, err = s.execAffected(ctx, `UPDATE pending_grants SET state = ?, subject = ?, actor = ?, decided_at = ?
			WHERE kind = ? AND handle_signature = ? AND state = ? AND expires_at > ?`,
			string(pending.StateDenied), d.Subject, d.Actor, now.UnixNano(), string(kind), handleSignature, string(pending.StatePending), now.UnixNano())
	}
	if err != nil {
		return wrap(err, "decide pending grant")
	}
	if n == 0 {
		return s.missingOrChanged(ctx, kind, handleSignature)
	}
	return nil
}

// missingOrChanged tells why a conditional update changed nothing.
func (s *Store) missingOrChanged(ctx context.Context, kind pending.Kind, handleSignature string) error {
	var one int
	err := s.queryRow(ctx, "SELECT 1 FROM pending_grants WHERE kind = ? AND handle_signature = ?", string(kind), handleSignature).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return pending.ErrNotFound
	case err != nil:
		return wrap(err, "read pending grant")
	default:
		return pending.ErrStateChanged
	}
}

// RecordPoll implements pending.Storage (RFC 8628 §3.5, CIBA §7.3) as one UPDATE: the database
// compares now with the last poll plus the interval, raises the interval when the poll is early, and
// records the poll, all on the row's current values, so that concurrent polls on many instances are
// each judged against the one before.
func (s *Store) RecordPoll(ctx context.Context, kind pending.Kind, handleSignature string, now time.Time, step time.Duration) (bool, error) {
	t := now.UnixNano()
	var slow bool
	err := s.scanRow(ctx, `UPDATE pending_grants SET
			last_poll_slow_down = (last_polled_at IS NOT NULL AND ? < last_polled_at + interval_ns),
			interval_ns = CASE WHEN last_polled_at IS NOT NULL AND ? < last_polled_at + interval_ns THEN interval_ns + ? ELSE interval_ns END,
			last_polled_at = ?
		WHERE kind = ? AND handle_signature = ?
		RETURNING last_poll_slow_down`, []any{t, t, int64(step), t, string(kind), handleSignature}, &slow)
	if errors.Is(err, sql.ErrNoRows) {
		return false, pending.ErrNotFound
	} else if err != nil {
		return false, wrap(err, "record poll")
	}
	return slow, nil
}

// ConsumePendingGrant implements pending.Storage with one conditional UPDATE (state = approved): of
// concurrent calls, on any number of instances, exactly one changes the row. Inside a transaction
// begun with BeginTX the change commits or rolls back with the tokens.
//
// In a pipelined PostgreSQL transaction the consume is queued like a token insert, so that a redemption
// — consume, tokens, COMMIT — is one round trip: the statement fails when it consumed nothing (a division
// by the number of rows it changed), which aborts the transaction, and Commit then returns an error
// wrapping pending.ErrStateChanged (also for a grant that does not exist); nothing of the transaction is
// committed.
func (s *Store) ConsumePendingGrant(ctx context.Context, kind pending.Kind, handleSignature string) error {
	if t := s.pgtxOf(ctx); t != nil {
		return t.laterChecked(consumeOrFail, "consume pending grant",
			[]any{string(pending.StateConsumed), clock.Now(s.opts.now).UnixNano(), string(kind), handleSignature, string(pending.StateApproved)},
			func(err error) error {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "22012" { // division_by_zero: nothing was consumed
					return fmt.Errorf("sqlstore: consume pending grant: %w", pending.ErrStateChanged)
				}
				return nil
			})
	}
	n, err := s.execAffected(ctx, "UPDATE pending_grants SET state = ?, consumed_at = ? WHERE kind = ? AND handle_signature = ? AND state = ?",
		string(pending.StateConsumed), clock.Now(s.opts.now).UnixNano(), string(kind), handleSignature, string(pending.StateApproved))
	if err != nil {
		return wrap(err, "consume pending grant")
	}
	if n == 0 {
		return s.missingOrChanged(ctx, kind, handleSignature)
	}
	return nil
}

// consumeOrFail is ConsumePendingGrant's UPDATE as one statement that fails when it changed no row
// (PostgreSQL). The divisor is a subquery, so that PostgreSQL cannot fold the division at planning time.
const consumeOrFail = `WITH consumed AS (UPDATE pending_grants SET state = ?, consumed_at = ?
		WHERE kind = ? AND handle_signature = ? AND state = ? RETURNING 1)
	SELECT 1 / (SELECT COUNT(*)::int FROM consumed)`

// IncrementAttempts implements pending.AttemptStorage as one upsert: a new key, or one whose window
// has passed, starts a window at now with a count of 1; otherwise the count goes up by one. The count
// comes back with the upsert (RETURNING) on PostgreSQL, from a read after it in the same transaction
// on SQLite (see writeThenRead). On PostgreSQL, outside a caller's transaction, the count is committed
// asynchronously (see relaxedFrom).
func (s *Store) IncrementAttempts(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	t, w := now.UnixNano(), int64(window)
	args := []any{key, t, t + w, w, w, w, w}
	var n int64
	ok, err := s.writeThenRead(ctx, func(tx *wtx) error {
		if _, err := tx.exec(ctx, attemptsUpsert, args...); err != nil {
			return err
		}
		return tx.scanRow(ctx, "SELECT count FROM pending_attempts WHERE key = ?", []any{key}, &n)
	})
	if !ok {
		query := attemptsUpsert + " RETURNING count"
		if s.dialect == postgres && !s.inTx(ctx) {
			query = attemptsUpsertRelaxed + " RETURNING count"
		}
		err = s.scanRow(ctx, query, args, &n)
	}
	if err != nil {
		return 0, wrap(err, "count attempt")
	}
	return int(n), nil
}

// attemptsUpsert counts an attempt (IncrementAttempts); attemptsUpsertRelaxed is the same committed
// asynchronously on PostgreSQL (see relaxedFrom), its row selected from the relaxed FROM item.
// Parameters: key, now, now + window, then the window four times.
const (
	attemptsUpsert        = attemptsInsert + "VALUES (?, ?, ?, 1)" + attemptsOnConflict
	attemptsUpsertRelaxed = attemptsInsert + "SELECT CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), 1" + relaxedFrom + attemptsOnConflict
	attemptsInsert        = "INSERT INTO pending_attempts (key, window_start, window_end, count) "
)

const attemptsOnConflict = `
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN excluded.window_start < pending_attempts.window_start + ? THEN pending_attempts.count + 1 ELSE 1 END,
			window_start = CASE WHEN excluded.window_start < pending_attempts.window_start + ? THEN pending_attempts.window_start ELSE excluded.window_start END,
			window_end = CASE WHEN excluded.window_start < pending_attempts.window_start + ? THEN pending_attempts.window_start + ? ELSE excluded.window_end END`

// GetAttempts implements pending.AttemptStorage.
func (s *Store) GetAttempts(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	var n int64
	err := s.queryRow(ctx, "SELECT count FROM pending_attempts WHERE key = ? AND ? < window_start + ?", key, now.UnixNano(), int64(window)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, wrap(err, "read attempts")
	}
	return int(n), nil
}
