package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// This file lets the store live in a database another component owns (for example the database of an
// Ory Hydra server): OpenDB borrows that component's connection pool, WithContextTx joins the
// transactions it carries in its contexts, and WithClients reads clients from it.

// OpenDB returns a Store on a database handle another component opened, speaking dialect ("sqlite" or
// "postgres"). The store borrows db: Close leaves it open. Unless WithoutMigrations is given, the
// migrations are applied; they create only this module's tables (and its grants_schema_migrations
// bookkeeping table), so the database may hold another application's tables.
//
// For SQLite, db must be opened the way Open opens it (WAL, foreign keys on, a busy timeout, write
// transactions that take the write lock when they begin: see Open); OpenDB cannot change a pool's
// connection settings.
func OpenDB(ctx context.Context, db *sql.DB, dialect string, opts ...Option) (*Store, error) {
	s := &Store{db: db, opts: newOptions(opts), borrowed: true}
	switch dialect {
	case "sqlite", "sqlite3":
		s.dialect = sqlite
	case "postgres", "postgresql", "pgx":
		s.dialect = postgres
	default:
		return nil, fmt.Errorf("sqlstore: unknown SQL dialect %q (want sqlite or postgres)", dialect)
	}
	if db != nil {
		// Pipelined transactions speak pgx's protocol on the pool's connections; another driver's
		// pool gets database/sql's transactions.
		_, pgx := db.Driver().(*stdlib.Driver)
		s.pipelined = s.dialect == postgres && pgx
	}
	if s.opts.migrate {
		if err := s.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// WithContextTx makes the store join transactions another component carries in its contexts: when
// txOf(ctx) returns a transaction, every method called with ctx runs its statements in it, BeginTX
// joins it instead of beginning one (and Commit and Rollback then leave it to its owner), and nothing
// the store does with ctx commits or rolls back. txOf returns nil when ctx carries none; it must be
// cheap and safe for concurrent use.
//
// This is how a redemption stores another component's tokens and consumes the pending grant in one
// transaction: the component begins it, this store's ConsumePendingGrant and the component's token
// writes both use it, and the component commits.
func WithContextTx(txOf func(ctx context.Context) *sql.Tx) Option {
	return func(o *options) { o.contextTx = txOf }
}

// ClientSource gives the store the clients another component keeps. GetClient returns the client, or an
// error wrapping fosite.ErrNotFound.
type ClientSource interface {
	GetClient(ctx context.Context, id string) (fosite.Client, error)
}

// WithClients makes GetClient, and so every stored request read back, take its client from src instead
// of the store's own oauth2_clients table (and without WithClientCache's cache: src caches if it
// wishes). The store's other client methods (CreateClient, SetClient, ...) still write its own table,
// whose rows the foreign keys of the grant tables need: a grant may only name a client that has a row
// there, if only its ID.
func WithClients(src ClientSource) Option {
	return func(o *options) { o.clients = src }
}

// newOptions applies opts over the defaults.
func newOptions(opts []Option) options {
	o := options{migrate: true, retention: 24 * time.Hour, busyTimeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.newPARSession == nil {
		o.newPARSession = func() fosite.Session { return openid.NewDefaultSession() }
	}
	if !o.clientTTLSet {
		o.clientTTL = DefaultClientCacheTTL
	}
	return o
}

// contextTx returns the transaction WithContextTx finds in ctx, or nil.
func (s *Store) contextTx(ctx context.Context) *sql.Tx {
	if s.opts.contextTx == nil {
		return nil
	}
	return s.opts.contextTx(ctx)
}

// joinsTx reports whether ctx carries another component's transaction that this store runs in (found
// by WithContextTx, or joined by BeginTX).
func (s *Store) joinsTx(ctx context.Context) bool {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.store == s {
		return st.joined
	}
	return s.contextTx(ctx) != nil
}
