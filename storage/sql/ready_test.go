package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestCounterConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCounterTests(t, func(t *testing.T, c fosite.Client) storagetest.CounterStore {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}

// TestCheckReady: a migrated store is ready; one missing a migration, or closed, is not.
func TestCheckReady(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b.fresh(t))
		require.NoError(t, s.CheckReady(ctx))
		missing, err := s.PendingMigrations(ctx)
		require.NoError(t, err)
		require.Empty(t, missing)

		// A migration lower than the newest (migrations may arrive out of order) counts too.
		_, err = s.DB().ExecContext(ctx, "DELETE FROM grants_schema_migrations WHERE version_id = 40")
		require.NoError(t, err)
		missing, err = s.PendingMigrations(ctx)
		require.NoError(t, err)
		require.Equal(t, []int64{40}, missing)
		require.ErrorIs(t, s.CheckReady(ctx), sqlstore.ErrMigrationsPending)

		require.NoError(t, s.Close())
		require.Error(t, s.CheckReady(ctx))
	})
}

// TestCheckReadyBeforeMigrating: a database nobody migrated is not ready, and checking creates
// nothing.
func TestCheckReadyBeforeMigrating(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b.fresh(t), sqlstore.WithoutMigrations())
		require.Error(t, s.CheckReady(ctx))
		require.NoError(t, s.Migrate(ctx), "the check left nothing in the migrations' way")
		require.NoError(t, s.CheckReady(ctx))
	})
}
