package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"

	"github.com/fosite-contrib/grants/observe"
)

// WithObserver makes the store tell o about every statement it runs on its database, as it runs it:
// each query and update (prepared or not, in a transaction or not), each transaction's begin, commit
// and rollback, and the migrations. o sees the database ("sqlite" or "postgresql") and the operation,
// named after the statement's verb and table ("select pending_grants", "update outbox_messages",
// "insert oauth2_access_tokens", "begin", "commit"; a pipelined PostgreSQL batch, which is one round
// trip, is one "pipeline"): never a statement's arguments, so no code, token or secret. The context o gets is the caller's, so a tracer's spans nest under the grant step that
// made the call.
//
// The observer sits between database/sql and the driver, so every store method is covered, including
// methods added later, without a wrapper around the store's many interfaces. It has no effect on a
// store made by OpenDB: that connection pool, and its driver, are the caller's.
func WithObserver(o observe.Store) Option {
	return func(opts *options) { opts.observer = o }
}

// openDB opens the database through the driver, with o watching every call when o is not nil.
func openDB(driverName, source string, d dialect, o observe.Store) (*sql.DB, error) {
	if o == nil {
		return sql.Open(driverName, source)
	}
	probe, err := sql.Open(driverName, source)
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	_ = probe.Close()
	var c driver.Connector = dsnConnector{dsn: source, driver: drv}
	if dc, ok := drv.(driver.DriverContext); ok {
		if c, err = dc.OpenConnector(source); err != nil {
			return nil, err
		}
	}
	system := "sqlite"
	if d == postgres {
		system = "postgresql"
	}
	return sql.OpenDB(&observedConnector{Connector: c, o: o, system: system}), nil
}

// dsnConnector is a driver.Connector for a driver that has no connectors of its own.
type dsnConnector struct {
	dsn    string
	driver driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.driver }

type observedConnector struct {
	driver.Connector
	o      observe.Store
	system string
}

func (c *observedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &observedConn{Conn: conn, c: c}, nil
}

// call tells the observer that operation begins.
func (c *observedConnector) call(ctx context.Context, operation string) (context.Context, func(error)) {
	return c.o.StoreCall(ctx, c.system, operation)
}

// observedConn passes everything to the driver's connection, telling the observer about statements
// and transactions. Where the driver lacks an optional interface it answers driver.ErrSkip, so that
// database/sql falls back as it would without the observer.
type observedConn struct {
	driver.Conn
	c *observedConnector
}

var (
	_ driver.ExecerContext      = (*observedConn)(nil)
	_ driver.QueryerContext     = (*observedConn)(nil)
	_ driver.ConnPrepareContext = (*observedConn)(nil)
	_ driver.ConnBeginTx        = (*observedConn)(nil)
	_ driver.Pinger             = (*observedConn)(nil)
	_ driver.SessionResetter    = (*observedConn)(nil)
	_ driver.Validator          = (*observedConn)(nil)
	_ driver.NamedValueChecker  = (*observedConn)(nil)
)

func (c *observedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, end := c.c.call(ctx, operation(query))
	res, err := e.ExecContext(ctx, query, args)
	end(skipped(err))
	return res, err
}

func (c *observedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	ctx, end := c.c.call(ctx, operation(query))
	rows, err := q.QueryContext(ctx, query, args)
	end(skipped(err))
	return rows, err
}

func (c *observedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *observedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		st  driver.Stmt
		err error
	)
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &observedStmt{Stmt: st, c: c.c, operation: operation(query)}, nil
}

func (c *observedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	octx, end := c.c.call(ctx, "begin")
	var (
		tx  driver.Tx
		err error
	)
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(octx, opts)
	} else {
		//lint:ignore SA1019 the fallback database/sql itself uses for drivers without BeginTx
		tx, err = c.Conn.Begin()
	}
	end(err)
	if err != nil {
		return nil, err
	}
	return &observedTx{Tx: tx, c: c.c, ctx: ctx}, nil
}

func (c *observedConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *observedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *observedConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *observedConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// observedTx tells the observer about the end of a transaction, in the context it began in.
type observedTx struct {
	driver.Tx
	c   *observedConnector
	ctx context.Context
}

func (t *observedTx) Commit() error {
	_, end := t.c.call(t.ctx, "commit")
	err := t.Tx.Commit()
	end(err)
	return err
}

func (t *observedTx) Rollback() error {
	_, end := t.c.call(t.ctx, "rollback")
	err := t.Tx.Rollback()
	end(err)
	return err
}

// observedStmt is a prepared statement that tells the observer about each run.
type observedStmt struct {
	driver.Stmt
	c         *observedConnector
	operation string
}

var (
	_ driver.StmtExecContext   = (*observedStmt)(nil)
	_ driver.StmtQueryContext  = (*observedStmt)(nil)
	_ driver.NamedValueChecker = (*observedStmt)(nil)
)

func (s *observedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ctx, end := s.c.call(ctx, s.operation)
	var (
		res driver.Result
		err error
	)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err = e.ExecContext(ctx, args)
	} else {
		//lint:ignore SA1019 the fallback database/sql itself uses for drivers without ExecContext
		res, err = s.Stmt.Exec(values(args))
	}
	end(err)
	return res, err
}

func (s *observedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	ctx, end := s.c.call(ctx, s.operation)
	var (
		rows driver.Rows
		err  error
	)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		//lint:ignore SA1019 the fallback database/sql itself uses for drivers without QueryContext
		rows, err = s.Stmt.Query(values(args))
	}
	end(err)
	return rows, err
}

func (s *observedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func values(args []driver.NamedValue) []driver.Value {
	v := make([]driver.Value, len(args))
	for i, a := range args {
		v[i] = a.Value
	}
	return v
}

// skipped is err, except that driver.ErrSkip (the driver asks database/sql to prepare the statement
// instead, which is then observed itself) is no failure.
func skipped(err error) error {
	if err == driver.ErrSkip {
		return nil
	}
	return err
}

// operations caches the operation name of each statement text; the store's statements are constants,
// so it stays small, and maxCachedOperations bounds it all the same.
var (
	operations          sync.Map
	operationsCached    int
	operationsCachedMu  sync.Mutex
	maxCachedOperations = 1024
)

// operation names a statement after its verb and, for select, insert, update and delete, its first
// table: "select pending_grants". Other statements are their verb alone ("begin", "create", "with");
// anything unrecognised is "other". The result is always lower case and short.
func operation(query string) string {
	if v, ok := operations.Load(query); ok {
		return v.(string)
	}
	op := parseOperation(query)
	operationsCachedMu.Lock()
	if operationsCached < maxCachedOperations {
		if _, loaded := operations.LoadOrStore(query, op); !loaded {
			operationsCached++
		}
	}
	operationsCachedMu.Unlock()
	return op
}

// verbs are the statement verbs operation names.
var verbs = map[string]bool{
	"select": true, "insert": true, "update": true, "delete": true, "with": true, "create": true,
	"alter": true, "drop": true, "pragma": true, "begin": true, "commit": true, "rollback": true,
	"savepoint": true, "release": true, "set": true, "show": true, "lock": true, "vacuum": true,
	"analyze": true, "explain": true,
}

func parseOperation(query string) string {
	fields := strings.Fields(strings.ToLower(query))
	if len(fields) == 0 {
		return "other"
	}
	verb := strings.TrimLeft(fields[0], "(")
	if !verbs[verb] {
		return "other"
	}
	var after string
	switch verb {
	case "select", "delete":
		after = "from"
	case "insert":
		after = "into"
	case "update":
		if len(fields) > 1 {
			return withTable(verb, fields[1])
		}
		return verb
	default:
		return verb
	}
	for i := 1; i < len(fields)-1; i++ {
		if fields[i] == after {
			return withTable(verb, fields[i+1])
		}
	}
	return verb
}

// withTable returns "verb table" when table is a plain identifier (possibly schema-qualified or
// quoted), else verb.
func withTable(verb, table string) string {
	table = strings.TrimRight(strings.ReplaceAll(table, `"`, ""), ",;")
	if table == "" || len(table) > 64 {
		return verb
	}
	for _, c := range table {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return verb
		}
	}
	return verb + " " + table
}
