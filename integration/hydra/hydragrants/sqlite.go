package hydragrants

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/url"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteDriverName is the database/sql driver Hydra's SQLite dialect opens.
const SQLiteDriverName = "sqlite3"

var registerSQLite sync.Once

// RegisterSQLite lets Hydra v2.3.0 run on SQLite without cgo: it registers, under the name Hydra's
// SQLite dialect opens ("sqlite3"), the pure-Go SQLite of modernc.org/sqlite — the driver this
// module's SQL store uses — behind a thin adapter:
//
//   - Hydra's DSN options are translated: _fk and _busy_timeout (mattn/go-sqlite3's spelling) become
//     the pragmas foreign_keys and busy_timeout; every connection gets WAL, synchronous=NORMAL, a
//     10-second busy timeout unless one is given, write transactions that take the write lock when
//     they begin (_txlock=immediate: concurrent writers queue instead of failing), and times written
//     in the layout mattn/go-sqlite3 writes (_time_format=sqlite), so a database moves between the two
//     drivers. Options neither driver knows are dropped.
//   - Errors carry the SQLSTATE Hydra's error mapping (ory/x/sqlcon) understands: a unique or
//     primary-key violation is 23505, a busy or locked database 40001, a missing table 42P01. Without
//     this, a replayed consent verifier or client-assertion JWT ID would be a server error instead of
//     Hydra's access_denied or invalid_client.
//
// When the binary already has a "sqlite3" driver (built with Hydra's own `-tags sqlite`, which links
// mattn/go-sqlite3 through cgo), RegisterSQLite leaves it in place. Hydra's SQLite support also needs
// the DSN to be accepted: use driver.NewRegistrySQL (as Server does) rather than driver.New, which
// refuses SQLite DSNs in binaries built without that tag. Call RegisterSQLite before opening Hydra's
// database; calling it again does nothing.
func RegisterSQLite() {
	registerSQLite.Do(func() {
		for _, name := range sql.Drivers() {
			if name == SQLiteDriverName {
				return
			}
		}
		sql.Register(SQLiteDriverName, sqliteDriver{})
	})
}

// sqliteDriver is modernc.org/sqlite with Hydra's DSN options and SQLSTATE-carrying errors.
type sqliteDriver struct{}

func (sqliteDriver) Open(name string) (driver.Conn, error) {
	c, err := (&sqlite.Driver{}).Open(sqliteDSN(name))
	if err != nil {
		return nil, sqliteError(err)
	}
	return &sqliteConn{c: c}, nil
}

// sqliteDSN translates a DSN written for mattn/go-sqlite3 (as Hydra's pop dialect writes it) into
// modernc.org/sqlite's form, adding the settings described at RegisterSQLite.
func sqliteDSN(name string) string {
	base, query, _ := strings.Cut(name, "?")
	in, err := url.ParseQuery(query)
	if err != nil {
		in = url.Values{}
	}
	out := url.Values{}
	pragmas := map[string]string{
		"journal_mode": "WAL",
		"synchronous":  "NORMAL",
		"busy_timeout": "10000",
		"foreign_keys": "1",
	}
	for k, vs := range in {
		v := vs[len(vs)-1]
		switch k {
		case "_fk", "_foreign_keys":
			pragmas["foreign_keys"] = boolPragma(v)
		case "_busy_timeout", "_timeout":
			pragmas["busy_timeout"] = v
		case "_journal_mode", "_journal":
			pragmas["journal_mode"] = v
		case "_sync", "_synchronous":
			pragmas["synchronous"] = v
		case "_pragma":
			for _, p := range vs {
				name, arg, ok := strings.Cut(p, "(")
				if ok {
					pragmas[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSuffix(arg, ")")
				}
			}
		case "_txlock", "_time_format", "vfs", "mode", "cache", "immutable":
			out[k] = vs // understood by modernc.org/sqlite, or by SQLite itself in a file: URI
		}
	}
	for p, v := range pragmas {
		out.Add("_pragma", p+"("+v+")")
	}
	if out.Get("_txlock") == "" {
		out.Set("_txlock", "immediate")
	}
	if out.Get("_time_format") == "" {
		out.Set("_time_format", "sqlite")
	}
	return base + "?" + out.Encode()
}

func boolPragma(v string) string {
	switch strings.ToLower(v) {
	case "1", "true", "on", "yes":
		return "1"
	}
	return "0"
}

// sqlState is an SQLite error with the SQLSTATE Hydra's error mapping reads (SQLState() string, the
// method PostgreSQL drivers' errors have).
type sqlState struct {
	err   error
	state string
}

func (e *sqlState) Error() string    { return e.err.Error() }
func (e *sqlState) Unwrap() error    { return e.err }
func (e *sqlState) SQLState() string { return e.state }

// sqliteError gives err the SQLSTATE of its SQLite error code, when one applies.
func sqliteError(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	code := se.Code()
	switch {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &sqlState{err: err, state: "23505"} // unique_violation
	case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
		return &sqlState{err: err, state: "40001"} // serialization_failure
	case code&0xff == sqlite3.SQLITE_ERROR && strings.Contains(se.Error(), "no such table"):
		return &sqlState{err: err, state: "42P01"} // undefined_table
	}
	return err
}

// sqliteConn, sqliteStmt and sqliteTx pass everything to modernc.org/sqlite and translate its errors.
type sqliteConn struct{ c driver.Conn }

var (
	_ driver.ConnBeginTx        = (*sqliteConn)(nil)
	_ driver.ConnPrepareContext = (*sqliteConn)(nil)
	_ driver.ExecerContext      = (*sqliteConn)(nil)
	_ driver.QueryerContext     = (*sqliteConn)(nil)
	_ driver.Pinger             = (*sqliteConn)(nil)
	_ driver.SessionResetter    = (*sqliteConn)(nil)
	_ driver.Validator          = (*sqliteConn)(nil)
)

func (c *sqliteConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *sqliteConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, sqliteError(err)
	}
	return &sqliteStmt{s: s}, nil
}

func (c *sqliteConn) Close() error { return c.c.Close() }

func (c *sqliteConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *sqliteConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	// SQLite's transactions are serializable; the isolation level Hydra asks for (repeatable read)
	// is met, so it is not passed on.
	tx, err := c.c.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, sqliteError(err)
	}
	return sqliteTx{tx: tx}, nil
}

func (c *sqliteConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.c.(driver.ExecerContext).ExecContext(ctx, query, args)
	return r, sqliteError(err)
}

func (c *sqliteConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.c.(driver.QueryerContext).QueryContext(ctx, query, args)
	return r, sqliteError(err)
}

func (c *sqliteConn) Ping(ctx context.Context) error {
	return sqliteError(c.c.(driver.Pinger).Ping(ctx))
}

func (c *sqliteConn) ResetSession(ctx context.Context) error {
	return c.c.(driver.SessionResetter).ResetSession(ctx)
}

func (c *sqliteConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

type sqliteStmt struct{ s driver.Stmt }

var (
	_ driver.StmtExecContext  = (*sqliteStmt)(nil)
	_ driver.StmtQueryContext = (*sqliteStmt)(nil)
)

func (s *sqliteStmt) Close() error  { return s.s.Close() }
func (s *sqliteStmt) NumInput() int { return s.s.NumInput() }

// Exec and Query satisfy driver.Stmt; database/sql calls the context variants.
func (s *sqliteStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *sqliteStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

func (s *sqliteStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	r, err := s.s.(driver.StmtExecContext).ExecContext(ctx, args)
	return r, sqliteError(err)
}

func (s *sqliteStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.s.(driver.StmtQueryContext).QueryContext(ctx, args)
	return r, sqliteError(err)
}

type sqliteTx struct{ tx driver.Tx }

func (t sqliteTx) Commit() error   { return sqliteError(t.tx.Commit()) }
func (t sqliteTx) Rollback() error { return sqliteError(t.tx.Rollback()) }
