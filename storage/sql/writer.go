package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fosite-contrib/grants/internal/groupcommit"
)

// DefaultGroupCommit is how many write transactions one SQLite commit serves at most (WithGroupCommit).
const DefaultGroupCommit = 64

// WithGroupCommit sets how many concurrent write transactions one SQLite commit may serve (group
// commit; see the package documentation). The default is DefaultGroupCommit; 1 commits every
// transaction on its own, 0 or less turns group commit off: every write transaction then takes
// SQLite's write lock on a connection of its own. It has no effect on PostgreSQL, nor on a store made by
// OpenDB.
func WithGroupCommit(maxBatch int) Option {
	return func(o *options) { o.groupCommit, o.groupCommitSet = maxBatch, true }
}

// writer runs every write transaction of a SQLite store on one connection and commits them in groups:
// each transaction is a savepoint of the batch's transaction (BEGIN IMMEDIATE ... COMMIT), released
// when it commits and rolled back to when it rolls back, and its Commit returns once the batch's COMMIT
// has. Transactions run one at a time (the group's turn), as they would under SQLite's write lock.
type writer struct {
	store *Store
	conn  *sql.Conn
	group *groupcommit.Group
	// stmts are the statements prepared on conn (query text → statement). Only the goroutine holding
	// the group's turn uses conn, so the map needs no lock.
	stmts map[string]*sql.Stmt

	// Checkpoints (see checkpointer and afterCommit): commits since the last one was asked for, how
	// often to ask and the log length past which the writer checkpoints itself (the constants below;
	// tests lower them), the log's length in frames as the last checkpoint found it, and the channels
	// that ask for one and tell that the checkpointer has ended.
	sinceCheckpoint int
	checkpointEvery int
	walFramesLimit  int64
	walFrames       atomic.Int64
	checkpointMu    sync.Mutex // one checkpoint at a time: SQLite's concurrent one would give up
	checkpoint      chan struct{}
	checkpointDone  chan struct{}
}

const (
	// checkpointEvery is how many batch commits ask the background checkpointer for a checkpoint.
	checkpointEvery = 32
	// walFramesLimit is the length of the write-ahead log (in pages) past which the writer itself
	// checkpoints after a commit, between batches, so that the log can start over: background
	// checkpoints racing a steady stream of commits never catch up with the log's end.
	walFramesLimit = 8192
)

// savepoint is the name of the savepoint each transaction of a batch runs in. Transactions of a batch
// follow one another, never nest, so one name serves them all.
const (
	sqlBegin           = "BEGIN IMMEDIATE"
	sqlCommit          = "COMMIT"
	sqlRollback        = "ROLLBACK"
	sqlSavepoint       = "SAVEPOINT grants_tx"
	sqlRelease         = "RELEASE grants_tx"
	sqlRollbackToSaved = "ROLLBACK TO grants_tx"
)

func newWriter(ctx context.Context, s *Store, maxBatch int) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open the SQLite writer connection: %w", err)
	}
	// The writer does not checkpoint after its commits (SQLite's default, every 1000 pages): a
	// checkpoint copies the log into the database and syncs both, which would hold every writer
	// waiting; the checkpointer goroutine does it on another connection while writes go on.
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sqlstore: SQLite writer connection: %w", err)
	}
	w := &writer{store: s, conn: conn, stmts: map[string]*sql.Stmt{},
		checkpointEvery: checkpointEvery, walFramesLimit: walFramesLimit,
		checkpoint: make(chan struct{}, 1), checkpointDone: make(chan struct{})}
	w.group = groupcommit.New(maxBatch, w.commitBatch)
	go w.checkpointer()
	return w, nil
}

// checkpointer runs a PASSIVE checkpoint — it copies the committed pages of the write-ahead log into
// the database file — each time the writer asks, on a connection of the pool, so that no writer waits
// for it. It ends when the channel is closed.
func (w *writer) checkpointer() {
	defer close(w.checkpointDone)
	for range w.checkpoint {
		w.checkpointMu.Lock()
		frames, ok := runCheckpoint(w.store.db)
		w.checkpointMu.Unlock()
		if ok {
			w.walFrames.Store(frames)
		}
	}
}

// runCheckpoint runs a PASSIVE checkpoint on q and returns the log's length in frames. ok is false when
// it did not run (another connection was checkpointing) or failed; that loses nothing, the next one
// copies the same pages.
func runCheckpoint(q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (frames int64, ok bool) {
	var busy, copied int64
	if err := q.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil || busy != 0 {
		return 0, false
	}
	return frames, true
}

// afterCommit asks for a background checkpoint every checkpointEvery commits, and checkpoints on the
// writer's own connection when the log has grown past walFramesLimit: the caller holds the turn and no
// batch is open, so the checkpoint can copy the whole log and the next batch starts the log over.
func (w *writer) afterCommit() {
	if w.stmts == nil {
		return // closed
	}
	if w.walFrames.Load() > w.walFramesLimit {
		w.checkpointMu.Lock() // wait for a background checkpoint, which would make this one give up
		_, _ = runCheckpoint(w.conn)
		w.checkpointMu.Unlock()
		w.walFrames.Store(0) // the next background checkpoint measures the log again
		return
	}
	w.sinceCheckpoint++
	if w.sinceCheckpoint < w.checkpointEvery {
		return
	}
	w.sinceCheckpoint = 0
	select {
	case w.checkpoint <- struct{}{}:
	default: // one is running; it will see these commits too
	}
}

// close closes the writer's connection, waiting for the transaction running on it, if any, to end.
func (w *writer) close() error {
	if _, err := w.group.Enter(context.Background()); err != nil {
		return err
	}
	defer func() { _ = w.group.Leave(false) }()
	if w.stmts == nil {
		return nil // closed before
	}
	for _, st := range w.stmts {
		_ = st.Close()
	}
	w.stmts = nil
	close(w.checkpoint)
	<-w.checkpointDone
	return w.conn.Close()
}

// run executes one statement on the writer's connection; the caller holds the turn. The caller's
// cancellation does not reach SQLite: interrupting a statement rolls back the whole transaction, that
// is the batch, which other requests share.
func (w *writer) run(ctx context.Context, query string) error {
	st, err := w.prepare(ctx, query)
	if err != nil {
		return err
	}
	w.store.stats.control.Add(1)
	_, err = st.ExecContext(context.WithoutCancel(ctx))
	return err
}

func (w *writer) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	if w.stmts == nil {
		return nil, errors.New("sqlstore: the store is closed")
	}
	st, err := w.conn.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// commitBatch is the group's commit: COMMIT the batch, or end it when every transaction in it rolled
// back.
func (w *writer) commitBatch(writers int) error {
	ctx := context.Background()
	if writers == 0 {
		return w.run(ctx, sqlRollback)
	}
	w.store.stats.commits.Add(1)
	if err := w.run(ctx, sqlCommit); err != nil {
		_ = w.run(ctx, sqlRollback)
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	w.afterCommit()
	return nil
}

// poison ends a batch that can no longer be committed — its transaction failed under it — and fails
// every transaction of it that already committed into it.
func (w *writer) poison(err error) {
	_ = w.run(context.Background(), sqlRollback) // "no transaction is active" when SQLite rolled it back itself
	w.group.Abort(fmt.Errorf("sqlstore: the batch's transaction failed: %w", err))
}

// begin starts a write transaction: it waits for the turn and joins the batch — the first
// transaction of a batch begins it and needs no savepoint (rolling it back rolls back the batch, which
// holds nothing else yet); a later one opens a savepoint. single is set for a transaction of one
// statement (or one statement and reads after it, see writeThenRead), which needs no savepoint either:
// SQLite undoes a failed statement by itself, and a failure that ends the whole transaction poisons the
// batch (see fail). A transaction that is not single is rolled back if ctx ends before it does.
func (w *writer) begin(ctx context.Context, single bool) (*wtx, error) {
	fresh, err := w.group.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	if fresh {
		if err := w.run(ctx, sqlBegin); err != nil {
			w.poison(err)
			_ = w.group.Leave(false)
			return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
		}
	}
	t := &wtx{w: w, first: fresh, single: single}
	if !fresh && !single {
		if err := w.run(ctx, sqlSavepoint); err != nil {
			w.poison(err)
			_ = w.group.Leave(false)
			return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
		}
		t.saved = true
	}
	if !single {
		t.stop = context.AfterFunc(ctx, func() { _ = t.rollback() })
	} else {
		t.stop = func() bool { return true }
	}
	return t, nil
}

// wtx is one write transaction of a batch.
type wtx struct {
	w    *writer
	stop func() bool
	// first: the transaction began the batch; single: it runs one statement (see begin); saved: it
	// runs in a savepoint.
	first, single, saved bool
	// mu serialises the transaction's statements with its rollback when its context ends.
	mu    sync.Mutex
	ended bool
	// failed is the first statement error: the transaction can only roll back after it, as on
	// PostgreSQL. poisoned tells that the failure ended the batch.
	failed   error
	poisoned bool
}

var errTxEnded = errors.New("sqlstore: the transaction has already been committed or rolled back")

// stmt returns query prepared on the writer's connection, or why the transaction cannot run it.
func (t *wtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	switch {
	case t.ended:
		return nil, errTxEnded
	case t.failed != nil:
		return nil, fmt.Errorf("sqlstore: an earlier statement of the transaction failed: %w", t.failed)
	}
	st, err := t.w.prepare(ctx, query)
	if err != nil {
		t.failed = err
	}
	return st, err
}

func (t *wtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	t.w.store.stats.queries.Add(1)
	res, err := st.ExecContext(context.WithoutCancel(ctx), args...)
	if err != nil {
		t.fail(err)
	}
	return res, err
}

func (t *wtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	t.w.store.stats.queries.Add(1)
	rows, err := st.QueryContext(context.WithoutCancel(ctx), args...)
	if err != nil {
		t.fail(err)
	}
	return rows, err
}

// scanRow runs a query that returns at most one row and scans it into dest.
func (t *wtx) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	t.w.store.stats.queries.Add(1)
	err = st.QueryRowContext(context.WithoutCancel(ctx), args...).Scan(dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.fail(err)
	}
	return err
}

// fail records a statement's failure: the transaction can only roll back now. A failure SQLite
// answers by rolling back the whole transaction — anything but a violated constraint, a bad value or
// statement — ends the batch under everyone in it: the batch is poisoned at once, before another
// statement could run outside any transaction.
func (t *wtx) fail(err error) {
	t.failed = err
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 1, 18, 19, 20, 25: // SQLITE_ERROR, TOOBIG, CONSTRAINT, MISMATCH, RANGE: the statement alone is undone
			return
		}
	}
	if t.first {
		return // rolling back the first transaction rolls back the batch anyway
	}
	t.w.poison(err)
	t.poisoned = true
}

// commit releases the transaction's savepoint into the batch and returns once the batch is committed:
// an acknowledged transaction is in the database file's write-ahead log.
func (t *wtx) commit() error {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return errTxEnded
	}
	t.ended = true
	t.stop()
	if t.failed != nil {
		err := t.undo()
		t.mu.Unlock()
		_ = t.w.group.Leave(false)
		if err == nil {
			err = t.failed
		}
		return fmt.Errorf("sqlstore: commit after a failed statement (rolled back): %w", err)
	}
	var err error
	if t.saved {
		if err = t.w.run(context.Background(), sqlRelease); err != nil {
			t.w.poison(err)
		}
	}
	t.mu.Unlock()
	if err != nil {
		_ = t.w.group.Leave(false)
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return t.w.group.Leave(true)
}

// rollback undoes the transaction's statements; the batch goes on without them. Rolling back a
// transaction that already ended is not an error.
func (t *wtx) rollback() error {
	t.mu.Lock()
	if t.ended {
		t.mu.Unlock()
		return nil
	}
	t.ended = true
	t.stop()
	err := t.undo()
	t.mu.Unlock()
	_ = t.w.group.Leave(false)
	return err
}

// undo rolls the batch back to the transaction's savepoint and releases it. If that fails, SQLite has
// already rolled back the whole batch (a full disk, an I/O error): the batch is poisoned. The first
// transaction of a batch rolls the batch back; a single statement has nothing to undo.
func (t *wtx) undo() error {
	switch {
	case t.poisoned:
		return nil
	case t.first:
		err := t.w.run(context.Background(), sqlRollback)
		t.w.group.Abort(nil) // nobody else joined: the batch ends empty
		if err != nil {
			return fmt.Errorf("sqlstore: rollback: %w", err)
		}
		return nil
	case !t.saved:
		return nil
	}
	err := t.w.run(context.Background(), sqlRollbackToSaved)
	if err == nil {
		err = t.w.run(context.Background(), sqlRelease)
	}
	if err != nil {
		t.w.poison(err)
		return fmt.Errorf("sqlstore: rollback: %w", err)
	}
	return nil
}

// writeThenRead runs fn — one statement that changes the database, then reads of what it changed — in
// the SQLite writer: in the transaction ctx carries, or else in a transaction of its own in the
// writer's batch. ok is false, and fn is not run, when the store has no writer for ctx (PostgreSQL,
// group commit off, a transaction of the caller's database).
//
// It stands for one statement with a RETURNING clause, which on SQLite costs several times the
// statement and a SELECT of the row (SQLite builds a temporary table for the returned rows each time:
// about 60 µs here, against 7 µs for an UPDATE and 7 µs for a SELECT). No other write runs on the
// writer's connection between the two. Like a single statement it needs no savepoint: SQLite undoes a
// failed statement by itself, and a read that fails after the write leaves the write in place — the
// caller gets the error, and what was written (a counted attempt, a recorded poll) stands, as it would
// had the answer been lost on its way.
func (s *Store) writeThenRead(ctx context.Context, fn func(t *wtx) error) (ok bool, err error) {
	if t := s.member(ctx); t != nil {
		return true, fn(t)
	}
	if s.w == nil || s.inTx(ctx) {
		return false, nil
	}
	return true, s.writeOne(ctx, fn)
}

// writeOne runs one statement (fn; or one and reads after it, see writeThenRead) in a transaction of
// its own in the writer's batch, without a savepoint.
func (s *Store) writeOne(ctx context.Context, fn func(t *wtx) error) error {
	t, err := s.w.begin(ctx, true)
	if err != nil {
		return err
	}
	if err := fn(t); err != nil {
		_ = t.rollback()
		return err
	}
	return t.commit()
}
