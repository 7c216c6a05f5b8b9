package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgtx is a PostgreSQL transaction begun with BeginTX, pipelined: BEGIN and the statements whose only
// answer is success (the INSERTs of tokens, the grant's advisory lock) are not sent when they are
// made but queued, and go out in one batch (pgx's pipeline: one round trip) with the next statement
// whose answer is needed, or with COMMIT. A redemption — BEGIN, consume the grant, store the tokens,
// COMMIT — is one round trip instead of five (see ConsumePendingGrant).
//
// A queued statement's failure is therefore reported by the call that sends it (the next statement
// that needs an answer, or Commit), not by the call that made it; the transaction is then rolled back
// as always. A transaction that never sent anything costs no round trip to roll back.
type pgtx struct {
	s    *Store
	conn *sql.Conn
	stop func() bool
	// mu serialises the transaction's statements with its rollback when its context ends.
	mu    sync.Mutex
	queue []pgQueued
	sent  bool // BEGIN has been sent: ending the transaction takes a round trip
	ended bool
}

// pgQueued is a statement waiting for the next batch; what says what it does, for its error.
type pgQueued struct {
	sql  string
	args []any
	what string
	// check, when set, turns the statement's error into the one its caller reports, or returns nil to
	// report it as any other statement's.
	check func(error) error
}

func (s *Store) beginPG(ctx context.Context) (*pgtx, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	t := &pgtx{s: s, conn: conn}
	t.queue = append(make([]pgQueued, 0, 4), pgQueued{sql: "BEGIN", what: "begin transaction"})
	s.stats.control.Add(1)
	t.stop = context.AfterFunc(ctx, func() { _ = t.rollback() })
	return t, nil
}

// send sends the queued statements and then last (when not nil) in one batch, and hands last's
// result to read. The first error is returned: a queued statement's, or last's.
func (t *pgtx) send(ctx context.Context, last *pgQueued, read func(br pgx.BatchResults) error) error {
	if t.ended && last == nil {
		return errTxEnded
	}
	t.s.stats.roundTrips.Add(1)
	err := t.conn.Raw(func(dc any) (first error) {
		// With WithObserver, the driver's connection sits under the observer's: the batch is one
		// call for the observer ("pipeline"), as it is one round trip.
		if oc, ok := dc.(*observedConn); ok {
			var end func(error)
			ctx, end = oc.c.call(ctx, "pipeline")
			defer func() { end(first) }()
			dc = oc.Conn
		}
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: PostgreSQL connection of type %T, not pgx's", dc)
		}
		b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(t.queue)+1)}
		for _, q := range t.queue {
			b.Queue(q.sql, q.args...)
		}
		if last != nil {
			b.Queue(last.sql, last.args...)
		}
		br := c.Conn().SendBatch(ctx, b)
		for _, q := range t.queue {
			if _, err := br.Exec(); err != nil {
				if q.check != nil {
					first = q.check(err)
				}
				if first == nil {
					first = wrap(err, q.what)
				}
				break
			}
		}
		if first == nil && last != nil && read != nil {
			first = read(br)
		}
		if err := br.Close(); first == nil && err != nil {
			first = err
		}
		return first
	})
	t.queue = t.queue[:0]
	t.sent = true
	return err
}

// later queues a statement whose only answer is success.
func (t *pgtx) later(query, what string, args []any) error {
	return t.laterChecked(query, what, args, nil)
}

// laterChecked queues a statement whose only answer is success or failure; check may turn its failure
// into the error the call that sends it reports (see pgQueued.check).
func (t *pgtx) laterChecked(query, what string, args []any, check func(error) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return errTxEnded
	}
	t.s.stats.queries.Add(1)
	t.queue = append(t.queue, pgQueued{sql: t.s.rebind(query), args: args, what: what, check: check})
	return nil
}

// pgResult is the sql.Result of a statement sent in a batch.
type pgResult int64

func (r pgResult) LastInsertId() (int64, error) {
	return 0, errors.New("sqlstore: LastInsertId is not supported by PostgreSQL")
}
func (r pgResult) RowsAffected() (int64, error) { return int64(r), nil }

func (t *pgtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil, errTxEnded
	}
	t.s.stats.queries.Add(1)
	var n int64
	err := t.send(ctx, &pgQueued{sql: t.s.rebind(query), args: args}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return nil, err
	}
	return pgResult(n), nil
}

func (t *pgtx) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return errTxEnded
	}
	t.s.stats.queries.Add(1)
	return t.send(ctx, &pgQueued{sql: t.s.rebind(query), args: args}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(dest...)
	})
}

// query runs a statement returning rows on the transaction's connection, after sending what is
// queued. The caller closes the rows before its next statement.
func (t *pgtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil, errTxEnded
	}
	if len(t.queue) > 0 {
		if err := t.send(ctx, nil, nil); err != nil {
			return nil, err
		}
	}
	t.s.stats.queries.Add(1)
	t.s.stats.roundTrips.Add(1)
	return t.conn.QueryContext(ctx, t.s.rebind(query), args...)
}

// pgRow runs its query in the pipelined transaction when scanned.
type pgRow struct {
	ctx   context.Context
	t     *pgtx
	query string
	args  []any
}

func (r pgRow) Scan(dest ...any) error { return r.t.scanRow(r.ctx, r.query, r.args, dest...) }

// commit sends what is queued with COMMIT: a transaction that only queued statements is one round trip
// from BEGIN to COMMIT.
func (t *pgtx) commit(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return errTxEnded
	}
	t.ended = true
	t.stop()
	t.s.stats.control.Add(1)
	t.s.stats.commits.Add(1)
	ctx = context.WithoutCancel(ctx)
	err := t.send(ctx, &pgQueued{sql: "COMMIT"}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.String() == "ROLLBACK" {
			err = errors.New("the transaction had failed and was rolled back")
		}
		return err
	})
	if err != nil {
		t.end(ctx) // a failed transaction is still open on the connection
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return t.conn.Close()
}

// rollback ends the transaction; rolling back one that already ended is not an error.
func (t *pgtx) rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil
	}
	t.ended = true
	t.stop()
	return t.end(context.Background())
}

// end rolls back what was sent, if anything, and gives the connection back to the pool.
func (t *pgtx) end(ctx context.Context) error {
	var err error
	if t.sent {
		t.s.stats.control.Add(1)
		t.s.stats.roundTrips.Add(1)
		_, err = t.conn.ExecContext(ctx, "ROLLBACK")
	}
	t.queue = nil
	if cerr := t.conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlstore: rollback: %w", err)
	}
	return nil
}
