package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/outbox"
)

// ErrMigrationsPending means the database lacks migrations this version of the store needs: run
// Migrate (or `example migrate`) before serving.
var ErrMigrationsPending = errors.New("sqlstore: the database schema lacks migrations")

// PendingMigrations returns the versions of the embedded migrations the database has not applied,
// oldest first; none when the schema is current. It only reads: unlike Migrate it takes no lock and
// creates nothing, so a readiness probe may call it as often as it likes.
func (s *Store) PendingMigrations(ctx context.Context) ([]int64, error) {
	dir := "migrations/" + s.dialect.String()
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	gd := database.DialectSQLite3
	if s.dialect == postgres {
		gd = database.DialectPostgres
	}
	store, err := database.NewStore(gd, migrationsTable)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	applied, err := store.ListMigrations(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read applied migrations: %w", err)
	}
	done := map[int64]bool{}
	// ListMigrations lists the newest row first; the newest row of a version says whether it is applied.
	for _, m := range applied {
		if _, seen := done[m.Version]; !seen {
			done[m.Version] = m.IsApplied
		}
	}
	var missing []int64
	for _, name := range names {
		v, err := goose.NumericComponent(path.Base(name))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration %s: %w", name, err)
		}
		if !done[v] {
			missing = append(missing, v)
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// CheckReady returns nil when the store can serve: the database answers and its schema has every
// migration (ErrMigrationsPending otherwise). It suits a readiness probe (observe.Health): it reads
// only, and fails once the store is closed.
func (s *Store) CheckReady(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: database unreachable: %w", err)
	}
	missing, err := s.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: versions %v are not applied", ErrMigrationsPending, missing)
	}
	return nil
}

var (
	_ observe.GrantCounter   = (*Store)(nil)
	_ observe.BacklogCounter = (*Store)(nil)
)

// CountGrants implements observe.GrantCounter: the grants of each kind waiting for a person (pending)
// or for their client (approved) that have not expired at now. One query, on the expiry index.
func (s *Store) CountGrants(ctx context.Context, now time.Time) ([]observe.GrantCount, error) {
	rows, err := s.query(ctx, "SELECT kind, state, COUNT(*) FROM pending_grants WHERE expires_at > ? AND state IN (?, ?) GROUP BY kind, state",
		now.UnixNano(), string(pending.StatePending), string(pending.StateApproved))
	if err != nil {
		return nil, wrap(err, "count grants")
	}
	defer rows.Close()
	var out []observe.GrantCount
	for rows.Next() {
		var c observe.GrantCount
		if err := rows.Scan(&c.Grant, &c.State, &c.Count); err != nil {
			return nil, wrap(err, "count grants")
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), "count grants")
}

// OutboxBacklog implements observe.BacklogCounter: how many messages wait for delivery (pending,
// due or not) and when the oldest of them was queued.
func (s *Store) OutboxBacklog(ctx context.Context) (observe.Backlog, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	err := s.queryRow(ctx, "SELECT COUNT(*), MIN(created_at) FROM outbox_messages WHERE state = ?", string(outbox.StatePending)).Scan(&n, &oldest)
	if err != nil {
		return observe.Backlog{}, wrap(err, "outbox backlog")
	}
	return observe.Backlog{Messages: n, Oldest: fromNanos(oldest)}, nil
}
