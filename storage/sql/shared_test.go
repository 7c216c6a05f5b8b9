package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// host is another component that owns a database (as Ory Hydra owns its own): its own table, its own
// transactions, carried in contexts under its own key.
type host struct {
	db      *sql.DB
	dialect string
}

type hostTxKey struct{}

// openHost opens the backend's database as another component would, with its own table in it.
func openHost(t *testing.T, b backend) *host {
	t.Helper()
	dsn := b.fresh(t)
	h := &host{dialect: b.name}
	var err error
	if b.name == "postgres" {
		h.db, err = sql.Open("pgx", dsn)
	} else {
		// The settings sqlstore.Open would choose (see OpenDB).
		h.db, err = sql.Open("sqlite", dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.db.Close() })
	_, err = h.db.Exec("CREATE TABLE host_tokens (signature TEXT PRIMARY KEY, request_id TEXT NOT NULL)")
	require.NoError(t, err)
	return h
}

// txOf is the host's answer to WithContextTx.
func txOf(ctx context.Context) *sql.Tx {
	tx, _ := ctx.Value(hostTxKey{}).(*sql.Tx)
	return tx
}

// redeemInHostTx does what a host's token endpoint does with a grant of this module: in one host
// transaction, consume the pending grant (through the store) and write the host's own token row.
func (h *host) redeemInHostTx(ctx context.Context, s *sqlstore.Store, g *pending.Grant, sig string, commit bool) (err error) {
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil || !commit {
			_ = tx.Rollback()
		}
	}()
	ctx = context.WithValue(ctx, hostTxKey{}, tx)
	if err = s.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature); err != nil {
		return err
	}
	insert := "INSERT INTO host_tokens (signature, request_id) VALUES (?, ?)"
	if h.dialect == "postgres" {
		insert = "INSERT INTO host_tokens (signature, request_id) VALUES ($1, $2)"
	}
	if _, err = tx.ExecContext(ctx, insert, sig, g.Request.GetID()); err != nil {
		return err
	}
	if !commit {
		return nil
	}
	return tx.Commit()
}

func (h *host) tokens(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, h.db.QueryRow("SELECT COUNT(*) FROM host_tokens").Scan(&n))
	return n
}

// clientDirectory is another component's client registry (WithClients).
type clientDirectory map[string]fosite.Client

func (d clientDirectory) GetClient(_ context.Context, id string) (fosite.Client, error) {
	if c, ok := d[id]; ok {
		return c, nil
	}
	return nil, fosite.ErrNotFound
}

// TestOpenDBInAnotherComponentsDatabase: the store lives in a database another component opened, joins
// the transactions that component carries in its contexts, and reads clients from it.
func TestOpenDBInAnotherComponentsDatabase(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		h := openHost(t, b)
		theirs := &fosite.DefaultClient{ID: "client-1", Scopes: []string{"openid", "offline", "theirs"}}
		s, err := sqlstore.OpenDB(ctx, h.db, b.name, sqlstore.WithContextTx(txOf), sqlstore.WithClients(clientDirectory{"client-1": theirs}))
		require.NoError(t, err)
		// The grant tables' foreign keys need the client's ID in the store's own table.
		require.NoError(t, s.CreateClient(ctx, &fosite.DefaultClient{ID: "client-1"}))

		approved := func(t *testing.T, handle string) *pending.Grant {
			g := newGrant(theirs, handle)
			require.NoError(t, s.CreatePendingGrant(ctx, g))
			require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approveAlice(), t0))
			return g
		}
		state := func(t *testing.T, g *pending.Grant) pending.State {
			got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
			require.NoError(t, err)
			return got.State
		}

		t.Run("the migrations create only this module's tables beside the other component's", func(t *testing.T) {
			v, err := s.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Positive(t, v)
			require.Zero(t, h.tokens(t))
		})

		t.Run("clients come from the other component", func(t *testing.T) {
			c, err := s.GetClient(ctx, "client-1")
			require.NoError(t, err)
			require.Same(t, theirs, c)
			g := approved(t, "theirs")
			got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
			require.NoError(t, err)
			require.Same(t, theirs, got.Request.GetClient(), "a stored request is read back with the other component's client")
			_, err = s.GetClient(ctx, "nobody")
			require.ErrorIs(t, err, fosite.ErrNotFound)
		})

		t.Run("a rolled-back host transaction consumes nothing", func(t *testing.T) {
			g := approved(t, "rolled-back")
			require.NoError(t, h.redeemInHostTx(ctx, s, g, "at-rolled-back", false))
			require.Equal(t, pending.StateApproved, state(t, g))
			require.Zero(t, h.tokens(t))
		})

		t.Run("a committed host transaction consumes the grant with the host's token", func(t *testing.T) {
			g := approved(t, "committed")
			require.NoError(t, h.redeemInHostTx(ctx, s, g, "at-committed", true))
			require.Equal(t, pending.StateConsumed, state(t, g))
			require.Equal(t, 1, h.tokens(t))
		})

		t.Run("BeginTX joins the host's transaction and leaves it to the host", func(t *testing.T) {
			g := approved(t, "joined")
			tx, err := h.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			hostCtx := context.WithValue(ctx, hostTxKey{}, tx)
			txCtx, err := s.BeginTX(hostCtx)
			require.NoError(t, err)
			require.NoError(t, s.ConsumePendingGrant(txCtx, g.Kind, g.HandleSignature))
			require.NoError(t, s.Commit(txCtx), "the store's commit of a joined transaction is the host's business")
			require.NoError(t, tx.Rollback())
			require.Equal(t, pending.StateApproved, state(t, g), "the host's rollback undid the consumption")
		})

		t.Run("of 32 concurrent host redemptions exactly one gets a token", func(t *testing.T) {
			g := approved(t, "raced")
			before := h.tokens(t)
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				wins     int
				failures []error
				start    = make(chan struct{})
			)
			for i := 0; i < 32; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					err := h.redeemInHostTx(ctx, s, g, fmt.Sprintf("at-raced-%d", i), true)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, pending.ErrStateChanged):
						failures = append(failures, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			require.Empty(t, failures)
			require.Equal(t, 1, wins)
			require.Equal(t, before+1, h.tokens(t))
		})

		t.Run("without a host transaction the store's own transactions commit and roll back", func(t *testing.T) {
			// On PostgreSQL these are pipelined on the borrowed pool's connections (it is pgx's).
			g := approved(t, "own-rolled-back")
			txCtx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.ConsumePendingGrant(txCtx, g.Kind, g.HandleSignature))
			require.NoError(t, s.Rollback(txCtx))
			require.Equal(t, pending.StateApproved, state(t, g), "the rollback undid the consumption")

			txCtx, err = s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.ConsumePendingGrant(txCtx, g.Kind, g.HandleSignature))
			require.NoError(t, s.Commit(txCtx))
			require.Equal(t, pending.StateConsumed, state(t, g))
		})

		t.Run("Close leaves the borrowed database open", func(t *testing.T) {
			require.NoError(t, s.Close())
			require.NoError(t, h.db.PingContext(ctx))
		})
	})
}

func TestOpenDBRefusesUnknownDialects(t *testing.T) {
	_, err := sqlstore.OpenDB(context.Background(), nil, "oracle")
	require.ErrorContains(t, err, `unknown SQL dialect "oracle"`)
}
