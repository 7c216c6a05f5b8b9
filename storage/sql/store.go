package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	// The two drivers this store speaks to: pure-Go SQLite and pgx's database/sql adapter.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/handler/rfc7523"
	"github.com/ory/fosite/storage"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe"
)

// Store is fosite's storage and this module's pending-grant storage on one SQL database. Create it
// with Open; it is safe for concurrent use, and any number of Stores (in any number of processes) may
// share one database.
type Store struct {
	db      *sql.DB
	dialect dialect
	opts    options
	// stmts holds every query prepared once (query text → *sql.Stmt): SQLite otherwise parses each
	// statement on every call, 40% of a pending poll. Queries are constants of this package, so the map
	// stays small.
	stmts sync.Map
	// clients caches GetClient for opts.clientTTL (WithClientCache).
	clients clientCache
	// w runs every write transaction of a SQLite store, in groups (WithGroupCommit); nil otherwise.
	w *writer
	// stats counts the statements the store runs (Stats).
	stats stats
	// borrowed is true when another component owns db (OpenDB): Close leaves it open.
	borrowed bool
	// pipelined is true when BeginTX begins pipelined PostgreSQL transactions (pgtx): on PostgreSQL
	// through pgx's database/sql driver, which Open always uses and OpenDB finds in most pools.
	pipelined bool
}

var (
	_ fosite.ClientManager                                = (*Store)(nil)
	_ fosite.PARStorage                                   = (*Store)(nil)
	_ oauth2.CoreStorage                                  = (*Store)(nil)
	_ oauth2.TokenRevocationStorage                       = (*Store)(nil)
	_ oauth2.ResourceOwnerPasswordCredentialsGrantStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage                             = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage                  = (*Store)(nil)
	_ rfc7523.RFC7523KeyStorage                           = (*Store)(nil)
	_ storage.Transactional                               = (*Store)(nil)
	_ pending.Storage                                     = (*Store)(nil)
	_ pending.AttemptStorage                              = (*Store)(nil)
	_ audit.Storage                                       = (*Store)(nil)
)

// dialect is the database the store talks to. The differences are few and all spelled out here.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// defaultSQLiteIdleConns is how many idle SQLite connections are kept when the pool has no limit.
const defaultSQLiteIdleConns = 32

// Option configures Open.
type Option func(*options)

type options struct {
	now           func() time.Time
	migrate       bool
	retention     time.Duration
	busyTimeout   time.Duration
	maxOpenConns  int
	authenticate  func(ctx context.Context, username, password string) (subject string, err error)
	newPARSession func() fosite.Session
	clientTTL     time.Duration
	clientTTLSet  bool
	// groupCommit is WithGroupCommit's batch size; groupCommitSet tells that it was given.
	groupCommit    int
	groupCommitSet bool
	// onPurgeBatch, when set (by tests), is told about every purge batch.
	onPurgeBatch func(what string, rows int64, took time.Duration)
	contextTx    func(context.Context) *sql.Tx // WithContextTx
	clients      ClientSource                  // WithClients
	// observer is told about every database call (WithObserver).
	observer observe.Store
}

// WithClock sets the clock the store reads where fosite's interfaces give it no time (client assertion
// JWT IDs, client timestamps, purges run by RunPurge). nil means time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithoutMigrations makes Open skip applying migrations; call Migrate yourself (from a deploy step).
func WithoutMigrations() Option {
	return func(o *options) { o.migrate = false }
}

// WithRetention sets how long Purge keeps pending grants and authorization codes after they expire,
// so that a replayed handle or code is still recognised (and what it issued revoked) rather than
// merely unknown. The default is 24 hours.
func WithRetention(d time.Duration) Option {
	return func(o *options) { o.retention = d }
}

// WithBusyTimeout sets how long a SQLite connection waits for another writer before failing. The
// default is 10 seconds. It has no effect on PostgreSQL.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithMaxOpenConns limits the connection pool (sql.DB.SetMaxOpenConns). The default is 25 on
// PostgreSQL and unlimited on SQLite. As many connections are kept open when idle (on SQLite without a
// limit, defaultSQLiteIdleConns = 32).
func WithMaxOpenConns(n int) Option {
	return func(o *options) { o.maxOpenConns = n }
}

// WithPasswordAuthenticator lets the store answer fosite's resource owner password credentials grant
// (RFC 6749 §4.3), which fosite asks of its storage. The store keeps no user accounts: without this
// option every such attempt fails with fosite.ErrNotFound.
func WithPasswordAuthenticator(fn func(ctx context.Context, username, password string) (subject string, err error)) Option {
	return func(o *options) { o.authenticate = fn }
}

// WithPARSession sets the session type pushed authorization requests (RFC 9126) are read back into.
// fosite's PARStorage gives the store no session to fill, so it makes one; the default is
// openid.NewDefaultSession().
func WithPARSession(fn func() fosite.Session) Option {
	return func(o *options) { o.newPARSession = fn }
}

// Open connects to the database named by dsn and, unless WithoutMigrations is given, brings its schema
// up to date.
//
// dsn is either a PostgreSQL URL (postgres:// or postgresql://, as pgx understands it; add
// search_path=... to use a schema other than public) or a SQLite database: a file path or a file: URI.
// SQLite databases are opened in WAL mode with foreign keys on, a busy timeout, and write transactions
// that take the write lock when they begin (_txlock=immediate), so concurrent writers queue instead of
// failing. In-memory SQLite databases are not supported: each pooled connection would see its own.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := newOptions(opts)
	s := &Store{opts: o}
	var driver, source string
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect, driver, source = postgres, "pgx", dsn
	case dsn == "", strings.Contains(dsn, ":memory:"), strings.Contains(dsn, "mode=memory"):
		return nil, errors.New("sqlstore: a SQLite database must be a file (in-memory databases are not shared between connections)")
	default:
		var err error
		s.dialect, driver = sqlite, "sqlite"
		if source, err = sqliteSource(dsn, o.busyTimeout); err != nil {
			return nil, err
		}
	}

	db, err := openDB(driver, source, s.dialect, o.observer)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s database: %w", s.dialect, err)
	}
	s.db = db
	s.pipelined = s.dialect == postgres
	maxOpen := o.maxOpenConns
	if maxOpen <= 0 && s.dialect == postgres {
		maxOpen = 25
	}
	db.SetMaxOpenConns(maxOpen)
	// Keep the connections open once made: database/sql keeps 2 idle ones by default, so under a load
	// of more concurrent requests every request closed a connection and the next opened one (on
	// PostgreSQL a new backend process each time, and its statements prepared again).
	idle := maxOpen
	if idle <= 0 {
		idle = defaultSQLiteIdleConns
	}
	db.SetMaxIdleConns(idle)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s database: %w", s.dialect, err)
	}
	if o.migrate {
		if err := s.Migrate(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if s.dialect == sqlite {
		maxBatch := DefaultGroupCommit
		if o.groupCommitSet {
			maxBatch = o.groupCommit
		}
		// The writer keeps one connection for itself: with a pool of one, readers would wait for it.
		if maxBatch > 0 && o.maxOpenConns != 1 {
			if s.w, err = newWriter(ctx, s, maxBatch); err != nil {
				_ = db.Close()
				return nil, err
			}
		}
	}
	return s, nil
}

// sqliteSource adds the connection settings the store relies on to a SQLite path or file: URI,
// keeping any the caller already chose.
func sqliteSource(dsn string, busy time.Duration) (string, error) {
	base, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("sqlstore: SQLite DSN parameters: %w", err)
	}
	has := func(pragma string) bool {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), pragma) {
				return true
			}
		}
		return false
	}
	if !has("busy_timeout") {
		q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	}
	if !has("journal_mode") {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	if !has("foreign_keys") {
		q.Add("_pragma", "foreign_keys(1)")
	}
	if !has("synchronous") {
		q.Add("_pragma", "synchronous(NORMAL)") // durable in WAL mode across application crashes
	}
	if !has("temp_store") {
		// Statement journals (and the savepoint journal of group commit) in small in-memory chunks:
		// with a file temp store SQLite keeps them in one 64 KiB buffer per statement, which the pure Go
		// allocator maps and unmaps each time. No effect on durability: these only undo a statement.
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return base + "?" + q.Encode(), nil
}

// Close closes the database. Transactions still open are rolled back by the database. A store made by
// OpenDB closes only what it prepared, and leaves the database to its owner.
func (s *Store) Close() error {
	if s.w != nil {
		_ = s.w.close()
	}
	s.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
	if s.borrowed {
		return nil
	}
	return s.db.Close()
}

// DB returns the underlying database handle, for tests and administration. Statements run on it
// bypass any transaction carried in a context.
func (s *Store) DB() *sql.DB {
	return s.db
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string {
	return s.dialect.String()
}

// txKey is the context key of the transaction begun by BeginTX.
type txKey struct{}

// txState is what travels in the context: the transaction and the store that began it. joined is true
// when the transaction is another component's (WithContextTx): its owner commits or rolls it back.
type txState struct {
	tx     *sql.Tx
	store  *Store
	joined bool
	// w is the transaction when it runs in the SQLite writer's batch, pg when it is a pipelined
	// PostgreSQL transaction (tx is then nil).
	w  *wtx
	pg *pgtx
}

// BeginTX begins a transaction and returns a context carrying it; every method of the store called
// with that context (or one derived from it) runs inside the transaction until Commit or Rollback.
// It implements fosite's storage.Transactional. Transactions do not nest: beginning one in a context
// that already carries one is an error.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*txState); ok {
		return ctx, errors.New("sqlstore: a transaction is already in progress in this context")
	}
	if tx := s.contextTx(ctx); tx != nil {
		return context.WithValue(ctx, txKey{}, &txState{tx: tx, store: s, joined: true}), nil
	}
	if s.w != nil {
		t, err := s.w.begin(ctx, false)
		if err != nil {
			return ctx, err
		}
		return context.WithValue(ctx, txKey{}, &txState{w: t, store: s}), nil
	}
	if s.pipelined {
		t, err := s.beginPG(ctx)
		if err != nil {
			return ctx, err
		}
		return context.WithValue(ctx, txKey{}, &txState{pg: t, store: s}), nil
	}
	s.countControl()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ctx, fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	return context.WithValue(ctx, txKey{}, &txState{tx: tx, store: s}), nil
}

// Commit commits the transaction carried by ctx.
func (s *Store) Commit(ctx context.Context) error {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok {
		return errors.New("sqlstore: commit: no transaction in context")
	}
	if st.joined {
		return nil
	}
	if st.w != nil {
		return st.w.commit()
	}
	if st.pg != nil {
		return st.pg.commit(ctx)
	}
	s.countControl()
	s.stats.commits.Add(1)
	if err := st.tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

// withTx runs fn in the transaction ctx carries (one this store began, or one WithContextTx finds), or
// else in a new one, which fn's error rolls back.
func (s *Store) withTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if _, ok := ctx.Value(txKey{}).(*txState); ok || s.contextTx(ctx) != nil {
		return fn(ctx)
	}
	if ctx, err = s.BeginTX(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.Rollback(ctx)
			return
		}
		err = s.Commit(ctx)
	}()
	return fn(ctx)
}

// Rollback rolls back the transaction carried by ctx. Rolling back a transaction that already ended is
// not an error.
func (s *Store) Rollback(ctx context.Context) error {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok {
		return errors.New("sqlstore: rollback: no transaction in context")
	}
	if st.joined {
		return nil
	}
	if st.w != nil {
		return st.w.rollback()
	}
	if st.pg != nil {
		return st.pg.rollback()
	}
	s.countControl()
	if err := st.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlstore: rollback: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q returns the transaction carried by ctx when it was begun (or joined) by this store, or the one
// WithContextTx finds in ctx, else the database. It is not used for the transactions of the SQLite
// writer or pipelined PostgreSQL transactions (member, pgtxOf).
func (s *Store) q(ctx context.Context) querier {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.store == s && st.tx != nil {
		return st.tx
	}
	if tx := s.contextTx(ctx); tx != nil {
		return tx
	}
	return s.db
}

// pgtxOf returns the pipelined PostgreSQL transaction ctx carries, or nil.
func (s *Store) pgtxOf(ctx context.Context) *pgtx {
	if s.dialect != postgres {
		return nil
	}
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.store == s {
		return st.pg
	}
	return nil
}

// member returns the SQLite writer's transaction ctx carries, or nil.
func (s *Store) member(ctx context.Context) *wtx {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.store == s {
		return st.w
	}
	return nil
}

// countControl counts a transaction-control statement (and its round trip on PostgreSQL).
func (s *Store) countControl() {
	s.stats.control.Add(1)
	if s.dialect == postgres {
		s.stats.roundTrips.Add(1)
	}
}

// countQuery counts a statement run for a caller (and its round trip on PostgreSQL).
func (s *Store) countQuery() {
	s.stats.queries.Add(1)
	if s.dialect == postgres {
		s.stats.roundTrips.Add(1)
	}
}

// rebind turns the ? placeholders the queries are written with into PostgreSQL's $1, $2, ... The
// queries of this package contain no ? inside string literals.
func (s *Store) rebind(query string) string {
	if s.dialect != postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// placeholders returns n comma-separated ? placeholders.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// stmt returns query prepared, bound to the transaction in ctx when there is one; false when it is not
// prepared yet and ctx carries a transaction (or preparing failed): the caller then runs the query as
// it is. Preparing takes a connection of its own from the pool, and a goroutine that holds a
// transaction's connection must never wait for another: with every connection held by a transaction,
// that wait would never end.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, bool) {
	if s.joinsTx(ctx) {
		// Another component's transaction may belong to another pool, where this store's statements
		// cannot be used: the query runs as it is.
		return nil, false
	}
	tx, inTx := s.q(ctx).(*sql.Tx)
	v, ok := s.stmts.Load(query)
	if !ok {
		if inTx {
			return nil, false
		}
		st, err := s.db.PrepareContext(context.WithoutCancel(ctx), s.rebind(query))
		if err != nil {
			return nil, false
		}
		if v, ok = s.stmts.LoadOrStore(query, st); ok {
			_ = st.Close()
		} else {
			v = st
		}
	}
	st := v.(*sql.Stmt)
	if inTx {
		return tx.StmtContext(ctx, st), true // prepared again on the transaction's own connection if need be
	}
	return st, true
}

// exec runs a statement that changes the database. On SQLite with group commit it runs in the writer:
// in the transaction ctx carries, or else in a transaction of its own.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t := s.member(ctx); t != nil {
		return t.exec(ctx, query, args...)
	}
	if t := s.pgtxOf(ctx); t != nil {
		return t.exec(ctx, query, args...)
	}
	if s.w != nil && !s.inTx(ctx) {
		var res sql.Result
		err := s.writeOne(ctx, func(t *wtx) (err error) {
			res, err = t.exec(ctx, query, args...)
			return err
		})
		return res, err
	}
	s.countQuery()
	if st, ok := s.stmt(ctx, query); ok {
		return st.ExecContext(ctx, args...)
	}
	return s.q(ctx).ExecContext(ctx, s.rebind(query), args...)
}

// query runs a statement that reads rows: in the transaction ctx carries, or else on a pooled
// connection. A statement that changes the database runs through scanRow or in a transaction.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t := s.member(ctx); t != nil {
		return t.query(ctx, query, args...)
	}
	if t := s.pgtxOf(ctx); t != nil {
		return t.query(ctx, query, args...)
	}
	s.countQuery()
	if st, ok := s.stmt(ctx, query); ok {
		return st.QueryContext(ctx, args...)
	}
	return s.q(ctx).QueryContext(ctx, s.rebind(query), args...)
}

// queryRow runs a read (SELECT) that returns at most one row; see scanRow for statements that change
// the database.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	if t := s.member(ctx); t != nil {
		return memberRow{ctx: ctx, t: t, query: query, args: args}
	}
	if t := s.pgtxOf(ctx); t != nil {
		return pgRow{ctx: ctx, t: t, query: query, args: args}
	}
	s.countQuery()
	if st, ok := s.stmt(ctx, query); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return s.q(ctx).QueryRowContext(ctx, s.rebind(query), args...)
}

// rowScanner is a row about to be scanned (*sql.Row, or a row of the SQLite writer).
type rowScanner interface {
	Scan(dest ...any) error
}

// memberRow runs its query in the SQLite writer's transaction when scanned.
type memberRow struct {
	ctx   context.Context
	t     *wtx
	query string
	args  []any
}

func (r memberRow) Scan(dest ...any) error { return r.t.scanRow(r.ctx, r.query, r.args, dest...) }

// scanRow runs a statement that changes the database and returns at most one row (... RETURNING), and
// scans the row into dest. On SQLite with group commit it runs in the writer like exec.
func (s *Store) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	if s.w != nil && !s.inTx(ctx) {
		return s.writeOne(ctx, func(t *wtx) error { return t.scanRow(ctx, query, args, dest...) })
	}
	return s.queryRow(ctx, query, args...).Scan(dest...)
}

// execLater runs a statement whose only answer is success. In a pipelined PostgreSQL transaction it
// is queued and sent with the next statement that needs an answer, or with COMMIT, and its error
// reported then; elsewhere it runs at once. what names the statement in its error.
func (s *Store) execLater(ctx context.Context, what, query string, args ...any) error {
	if t := s.pgtxOf(ctx); t != nil {
		return t.later(query, what, args)
	}
	_, err := s.exec(ctx, query, args...)
	return wrap(err, what)
}

// execAffected runs a statement and returns how many rows it changed.
func (s *Store) execAffected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// wrap annotates a database error with what the store was doing. The result is for logs: handlers
// turn any error that is not one of the documented sentinels into a server_error without details.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

// nanos and fromNanos convert times to the Unix nanoseconds the schema stores; the zero time is NULL.
func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
