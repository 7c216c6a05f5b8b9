package sqlstore

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/outbox"
)

// purgeBatch is how many rows Purge deletes in one statement (its own transaction): 500.
const purgeBatch = 500

// purgeStep is one kind of row Purge deletes: the rows of table that match cond (with the one
// argument before), identified by the primary-key columns pk.
type purgeStep struct {
	what, table, pk, cond string
	before                int64
}

// Purge deletes what can no longer be used at now and returns how many rows it deleted:
//
//   - pending grants and authorization codes whose expiry lies more than the retention period
//     (WithRetention, 24 hours by default) before now; they are kept that long after expiring so that
//     a replayed handle or code is still recognised and what it issued revoked;
//   - access and refresh tokens, PKCE and OpenID Connect sessions and pushed authorization requests
//     whose expiry has passed (rows without an expiry are kept);
//   - client-assertion JWT IDs whose expiry has passed, and attempt counters whose window has passed;
//   - the grants' own records kept for the same retention period: CIBA request records and e-mail/SMS
//     links, CIBA SMS reply codes, single-use keys (alert deactivation links), and delivered or failed
//     outbox messages with their attempt log;
//   - browser sign-in sessions whose expiry has passed.
//
// It deletes in batches of 500 rows, each one statement in its own transaction that finds its rows
// through an index on their expiry and deletes them by key (SQLite: rowid), and after each batch it
// pauses as long as the batch took. A batch holds SQLite's write lock for a few milliseconds (for 200k
// expired device grants on a busy two-core machine: median 7 ms, longest 170 ms, where one DELETE of
// all of them held it 8.5 s), so live requests, which wait up to the busy timeout (WithBusyTimeout)
// for the lock, get their turn between batches. On PostgreSQL a batch skips rows another transaction
// holds (FOR UPDATE SKIP LOCKED) instead of waiting for them, so it never holds up a request or
// deadlocks with one. Purge is safe to run on several instances at once, and stops early, returning
// ctx's error, when ctx is done.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	t := now.UnixNano()
	keep := now.Add(-s.opts.retention).UnixNano()
	steps := []purgeStep{
		{"pending grants", "pending_grants", "kind, handle_signature", "expires_at < ?", keep},
		{"authorization codes", tableAuthorizeCodes, "signature", "expires_at < ?", keep},
		{"access tokens", tableAccessTokens, "signature", "expires_at < ?", t},
		{"refresh tokens", tableRefreshTokens, "signature", "expires_at < ?", t},
		{"PKCE sessions", tablePKCE, "signature", "expires_at < ?", t},
		{"OpenID Connect sessions", tableOIDC, "signature", "expires_at < ?", keep},
		{"pushed authorization requests", tablePAR, "signature", "expires_at < ?", t},
		{"JWT IDs", "oauth2_jtis", "jti", "expires_at < ?", t},
		{"attempt counters", "pending_attempts", "key", "window_end <= ?", t},
		{"CIBA links", "ciba_links", "signature", "expires_at < ?", keep},
		{"CIBA SMS reply codes", "ciba_sms_bindings", "signature", "expires_at < ?", keep},
		{"single-use keys", "pending_once", "key", "expires_at <= ?", t},
		{"sign-in sessions", "signin_sessions", "id_hash", "expires_at <= ?", t},
	}
	total := 0
	for _, st := range steps {
		n, err := s.purgeBatches(ctx, st.what, s.purgeQuery(st), st.before)
		total += n
		if err != nil {
			return total, err
		}
	}
	n, err := s.PurgeOutbox(ctx, now.Add(-s.opts.retention))
	if err != nil {
		return total, err
	}
	return total + n, nil
}

// purgeQuery is the statement that deletes one batch of st's rows; its arguments are st.before and the
// batch size.
func (s *Store) purgeQuery(st purgeStep) string {
	if s.dialect == postgres {
		return "DELETE FROM " + st.table + " WHERE (" + st.pk + ") IN (SELECT " + st.pk + " FROM " + st.table +
			" WHERE " + st.cond + " LIMIT ? FOR UPDATE SKIP LOCKED)"
	}
	// SQLite has no row locks (a write holds the database) and keys every table by its rowid.
	return "DELETE FROM " + st.table + " WHERE rowid IN (SELECT rowid FROM " + st.table + " WHERE " + st.cond + " LIMIT ?)"
}

// purgeBatches runs query (a purgeQuery) with before and purgeBatch until a batch deletes fewer than
// purgeBatch rows, pausing after each as long as it took, and returns how many rows it deleted.
func (s *Store) purgeBatches(ctx context.Context, what, query string, before int64) (int, error) {
	total := 0
	for {
		start := time.Now()
		n, err := s.execAffected(ctx, query, before, purgeBatch)
		took := time.Since(start)
		if err != nil {
			return total, wrap(err, "purge "+what)
		}
		total += int(n)
		if s.opts.onPurgeBatch != nil {
			s.opts.onPurgeBatch(what, n, took)
		}
		if n < purgeBatch {
			return total, nil
		}
		if err := pause(ctx, took); err != nil {
			return total, err
		}
	}
}

// pause waits d (at least a millisecond) so that waiting writers get the database between two purge
// batches, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(max(d, time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PurgeOutbox implements outbox.Storage: it deletes delivered and failed messages that finished before
// before, with their attempts, in batches of 500 messages like Purge.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time) (int, error) {
	finished := "SELECT id FROM outbox_messages WHERE state <> ? AND finished_at < ? ORDER BY id LIMIT ?"
	if s.dialect == postgres {
		finished += " FOR UPDATE SKIP LOCKED"
	}
	total := 0
	for {
		start := time.Now()
		var n int64
		err := s.withTx(ctx, func(ctx context.Context) error {
			// The attempts go with their message (ON DELETE CASCADE); they are deleted explicitly too, so that
			// SQLite databases opened without foreign keys stay clean.
			args := []any{string(outbox.StatePending), before.UnixNano(), purgeBatch}
			if _, err := s.exec(ctx, "DELETE FROM outbox_attempts WHERE message_id IN ("+finished+")", args...); err != nil {
				return wrap(err, "purge outbox attempts")
			}
			var err error
			n, err = s.execAffected(ctx, "DELETE FROM outbox_messages WHERE id IN ("+finished+")", args...)
			return wrap(err, "purge outbox messages")
		})
		took := time.Since(start)
		if err != nil {
			return total, err
		}
		total += int(n)
		if s.opts.onPurgeBatch != nil {
			s.opts.onPurgeBatch("outbox messages", n, took)
		}
		if n < purgeBatch {
			return total, nil
		}
		if err := pause(ctx, took); err != nil {
			return total, err
		}
	}
}

// RunPurge calls Purge every interval (at the store's clock, see WithClock) until ctx is done, and
// returns ctx's error. Errors of single runs go to onError when it is not nil; the loop goes on.
func (s *Store) RunPurge(ctx context.Context, every time.Duration, onError func(error)) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if _, err := s.Purge(ctx, clock.Now(s.opts.now)); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
