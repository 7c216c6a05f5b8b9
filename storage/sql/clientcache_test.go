package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func secretOf(t *testing.T, s *sqlstore.Store, id string) string {
	t.Helper()
	c, err := s.GetClient(context.Background(), id)
	require.NoError(t, err)
	return string(c.GetHashedSecret())
}

// TestClientCache: two stores on one database are two server instances. A change through a store is
// seen by it at once; the other instance sees it after at most the cache TTL. Unknown clients and reads
// inside a transaction are never cached.
func TestClientCache(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		clock := &manualClock{t: time.Unix(1_800_000_000, 0)}
		dsn := b.fresh(t)
		a := open(t, dsn, sqlstore.WithClock(clock.Now), sqlstore.WithClientCache(2*time.Second))
		other := open(t, dsn, sqlstore.WithClock(clock.Now), sqlstore.WithClientCache(2*time.Second))
		c := testClient()
		require.NoError(t, a.SetClient(ctx, c))
		require.Equal(t, "$2a$04$hash-of-the-secret", secretOf(t, other, c.ID)) // now cached by other

		// A rotated secret: a sees it at once, the other instance within the TTL.
		c.Secret = []byte("$2a$04$rotated")
		require.NoError(t, a.UpdateClient(ctx, c))
		require.Equal(t, "$2a$04$rotated", secretOf(t, a, c.ID))
		require.Equal(t, "$2a$04$hash-of-the-secret", secretOf(t, other, c.ID), "within the TTL the other instance may answer from memory")
		clock.Add(2 * time.Second)
		require.Equal(t, "$2a$04$rotated", secretOf(t, other, c.ID), "after the TTL it reads the database")

		// Its own changes, through every writer, are seen at once.
		c.Secret = []byte("$2a$04$set")
		require.NoError(t, other.SetClient(ctx, c))
		require.Equal(t, "$2a$04$set", secretOf(t, other, c.ID))
		require.NoError(t, other.DeleteClient(ctx, c.ID))
		_, err := other.GetClient(ctx, c.ID)
		require.ErrorIs(t, err, fosite.ErrNotFound)

		// Not found is not cached: a client created elsewhere is found at once.
		_, err = other.GetClient(ctx, "newcomer")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		nc := testClient()
		nc.ID = "newcomer"
		require.NoError(t, a.CreateClient(ctx, nc))
		_, err = other.GetClient(ctx, "newcomer")
		require.NoError(t, err)

		// A read inside a transaction that is rolled back leaves nothing behind.
		tx, err := a.BeginTX(ctx)
		require.NoError(t, err)
		ghost := testClient()
		ghost.ID = "ghost"
		require.NoError(t, a.CreateClient(tx, ghost))
		_, err = a.GetClient(tx, "ghost")
		require.NoError(t, err)
		require.NoError(t, a.Rollback(tx))
		_, err = a.GetClient(ctx, "ghost")
		require.ErrorIs(t, err, fosite.ErrNotFound)

		// WithClientCache(0): every read goes to the database.
		uncached := open(t, dsn, sqlstore.WithClock(clock.Now), sqlstore.WithClientCache(0))
		require.Equal(t, "$2a$04$hash-of-the-secret", secretOf(t, uncached, "newcomer"))
		nc.Secret = []byte("$2a$04$elsewhere")
		require.NoError(t, a.UpdateClient(ctx, nc))
		require.Equal(t, "$2a$04$elsewhere", secretOf(t, uncached, "newcomer"))
	})
}
