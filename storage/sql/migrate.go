package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sync"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrationsTable records which migrations have been applied.
const migrationsTable = "grants_schema_migrations"

// sqliteMigrateMu serialises migrations of SQLite databases within this process; SQLite has no
// session lock like PostgreSQL's advisory locks, so two Opens of a fresh file in one process would
// otherwise race to create the same tables. (Across processes, let one migrate first.)
var sqliteMigrateMu sync.Mutex

// Migrate applies the migrations the database has not seen yet, in order, each in its own transaction.
// Open calls it unless WithoutMigrations is given. On PostgreSQL it holds an advisory lock (one per
// schema) while it runs, so that several instances starting at once migrate once.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrate(ctx, func(p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
}

// migrate runs up with the goose provider of the store's dialect, holding the migration lock.
func (s *Store) migrate(ctx context.Context, up func(*goose.Provider) error) error {
	dir := "migrations/" + s.dialect.String()
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}

	var gd database.Dialect
	popts := []goose.ProviderOption{}
	switch s.dialect {
	case postgres:
		gd = database.DialectPostgres
		// One lock per schema, so that tests (or tenants) in separate schemas do not wait for each other.
		var schema string
		if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("sqlstore: migrations: read current schema: %w", err)
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte("fosite-contrib/grants migrations " + schema))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 600))
		if err != nil {
			return fmt.Errorf("sqlstore: migrations: %w", err)
		}
		popts = append(popts, goose.WithSessionLocker(locker))
	default:
		gd = database.DialectSQLite3
		sqliteMigrateMu.Lock()
		defer sqliteMigrateMu.Unlock()
	}
	store, err := database.NewStore(gd, migrationsTable)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	popts = append(popts, goose.WithStore(store))
	// Each grant's migration creates only its own tables, so a database migrated before a lower-numbered
	// migration existed (a grant added later) applies it when it appears instead of refusing to start.
	popts = append(popts, goose.WithAllowOutofOrder(true))
	// Note: goose's Provider.Close would close s.db, so the provider is simply dropped when done.
	p, err := goose.NewProvider("", s.db, fsys, popts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if err := up(p); err != nil {
		return fmt.Errorf("sqlstore: apply migrations: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM "+migrationsTable).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return v, nil
}
