package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// TestPipelinedTransactions: on PostgreSQL a transaction of statements whose only answer is success is
// one round trip from BEGIN to COMMIT; a queued statement that fails makes Commit fail and stores
// nothing of the transaction; a transaction that sent nothing rolls back without a round trip. On
// SQLite the same calls behave the same, without round trips.
func TestPipelinedTransactions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s, c := newStoreWithClient(t, b)
		roundTrips := func() int64 { return s.Stats().RoundTrips }

		t.Run("BEGIN, two inserts and COMMIT in one round trip", func(t *testing.T) {
			before := roundTrips()
			tx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.CreateAccessTokenSession(tx, "pipe-a", testRequest(c, "req-a")))
			require.NoError(t, s.CreateAccessTokenSession(tx, "pipe-b", testRequest(c, "req-a")))
			require.NoError(t, s.Commit(tx))
			if b.name == "postgres" {
				require.Equal(t, int64(1), roundTrips()-before)
			}
			for _, sig := range []string{"pipe-a", "pipe-b"} {
				got, err := s.GetAccessTokenSession(ctx, sig, testSession(""))
				require.NoError(t, err)
				require.Equal(t, "req-a", got.GetID())
			}
		})

		t.Run("a failed queued insert fails Commit and stores nothing", func(t *testing.T) {
			require.NoError(t, s.CreateAccessTokenSession(ctx, "pipe-taken", testRequest(c, "req-b")))
			tx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.CreateAccessTokenSession(tx, "pipe-c", testRequest(c, "req-c")))
			err = s.CreateAccessTokenSession(tx, "pipe-taken", testRequest(c, "req-c")) // a signature already stored
			if err == nil {
				err = s.Commit(tx) // PostgreSQL: the insert was queued; its failure comes with COMMIT
			}
			require.Error(t, err)
			_ = s.Rollback(tx)
			_, err = s.GetAccessTokenSession(ctx, "pipe-c", testSession(""))
			require.ErrorIs(t, err, fosite.ErrNotFound, "nothing of the failed transaction is stored")
			got, err := s.GetAccessTokenSession(ctx, "pipe-taken", testSession(""))
			require.NoError(t, err)
			require.Equal(t, "req-b", got.GetID(), "the stored token is untouched")
		})

		t.Run("a redemption is one round trip; a second one fails at Commit and stores nothing", func(t *testing.T) {
			g := newGrant(c, "pipe-redeem")
			require.NoError(t, s.CreatePendingGrant(ctx, g))
			require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approveAlice(), t0))
			redeem := func(sig string) error {
				tx, err := s.BeginTX(ctx)
				require.NoError(t, err)
				if err := s.ConsumePendingGrant(tx, g.Kind, g.HandleSignature); err != nil {
					_ = s.Rollback(tx)
					return err
				}
				require.NoError(t, s.CreateAccessTokenSession(tx, sig, testRequest(c, "req-redeem")))
				if err := s.Commit(tx); err != nil {
					_ = s.Rollback(tx)
					return err
				}
				return nil
			}
			before := roundTrips()
			require.NoError(t, redeem("pipe-first"))
			if b.name == "postgres" {
				require.Equal(t, int64(1), roundTrips()-before, "BEGIN, consume, token and COMMIT in one batch")
			}
			require.ErrorIs(t, redeem("pipe-second"), pending.ErrStateChanged, "the grant was consumed already")
			_, err := s.GetAccessTokenSession(ctx, "pipe-second", testSession(""))
			require.ErrorIs(t, err, fosite.ErrNotFound, "the losing redemption stored no token")
			_, err = s.GetAccessTokenSession(ctx, "pipe-first", testSession(""))
			require.NoError(t, err)
		})

		t.Run("rolling back a transaction that sent nothing costs no round trip", func(t *testing.T) {
			before := roundTrips()
			tx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.CreateAccessTokenSession(tx, "pipe-d", testRequest(c, "req-d")))
			require.NoError(t, s.Rollback(tx))
			require.Equal(t, int64(0), roundTrips()-before)
			_, err = s.GetAccessTokenSession(ctx, "pipe-d", testSession(""))
			require.ErrorIs(t, err, fosite.ErrNotFound)
		})
	})
}

// operationLog is an observe.Store that keeps the operations it was told about.
type operationLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *operationLog) StoreCall(ctx context.Context, _, operation string) (context.Context, func(error)) {
	l.mu.Lock()
	l.ops = append(l.ops, operation)
	l.mu.Unlock()
	return ctx, func(error) {}
}

func (l *operationLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ops...)
}

// TestObservedTransactions: a store opened WithObserver (as the example always opens it) still commits
// its transactions — on PostgreSQL the pipelined batch runs on pgx's connection under the observer's,
// and the observer hears of it as one "pipeline" call.
func TestObservedTransactions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		log := &operationLog{}
		s, c := newStoreWithClient(t, b, sqlstore.WithObserver(log))
		tx, err := s.BeginTX(ctx)
		require.NoError(t, err)
		require.NoError(t, s.CreateAccessTokenSession(tx, "observed-a", testRequest(c, "req-o")))
		require.NoError(t, s.CreateAccessTokenSession(tx, "observed-b", testRequest(c, "req-o")))
		require.NoError(t, s.Commit(tx))
		for _, sig := range []string{"observed-a", "observed-b"} {
			got, err := s.GetAccessTokenSession(ctx, sig, testSession(""))
			require.NoError(t, err)
			require.Equal(t, "req-o", got.GetID())
		}
		if b.name == "postgres" {
			require.Contains(t, log.seen(), "pipeline")
		} else {
			require.Contains(t, log.seen(), "insert oauth2_access_tokens")
		}
	})
}
