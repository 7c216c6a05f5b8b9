package sqlstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func newGrant(c fosite.Client, handle string) *pending.Grant {
	req := fosite.NewRequest()
	req.ID = "req-" + handle
	req.Client = c
	req.RequestedAt = t0
	req.RequestedScope = fosite.Arguments{"openid", "offline"}
	req.Form = url.Values{"scope": {"openid offline"}}
	return &pending.Grant{
		Kind:              pending.KindDeviceCode,
		HandleSignature:   handle,
		UserCodeSignature: "user-" + handle,
		Request:           req,
		State:             pending.StatePending,
		CreatedAt:         t0,
		ExpiresAt:         t0.Add(10 * time.Minute),
		Interval:          5 * time.Second,
	}
}

func approveAlice() pending.Decision {
	return pending.Decision{Approved: true, Subject: "alice", Session: testSession("alice"), GrantedScopes: []string{"openid", "offline"}}
}

// TestTwoInstancesConsumeOnce races two stores on one database, as two server instances would.
func TestTwoInstancesConsumeOnce(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		one, two := open(t, dsn), open(t, dsn)
		c := testClient()
		require.NoError(t, one.SetClient(ctx, c))
		g := newGrant(c, "raced")
		require.NoError(t, one.CreatePendingGrant(ctx, g))
		require.NoError(t, two.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approveAlice(), t0))

		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			wins     int
			failures []error
			start    = make(chan struct{})
		)
		for i := 0; i < 64; i++ {
			s := one
			if i%2 == 1 {
				s = two
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// The way the token handlers redeem: consume and store the token in one transaction.
				err := redeem(ctx, s, g, fmt.Sprintf("at-%d", i))
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

		var tokens int
		require.NoError(t, one.DB().QueryRow("SELECT COUNT(*) FROM oauth2_access_tokens").Scan(&tokens))
		require.Equal(t, 1, tokens, "only the winner's token is stored")
	})
}

// redeem consumes the grant and stores an access token for it in one transaction.
func redeem(ctx context.Context, s *sqlstore.Store, g *pending.Grant, sig string) (err error) {
	ctx, err = s.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.Rollback(ctx)
		}
	}()
	if err = s.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature); err != nil {
		return err
	}
	got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
	if err != nil {
		return err
	}
	if err = s.CreateAccessTokenSession(ctx, sig, got.Request); err != nil {
		return err
	}
	return s.Commit(ctx)
}

func TestTransactions(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		s, c := newStoreWithClient(t, b)

		t.Run("rollback leaves nothing", func(t *testing.T) {
			g := newGrant(c, "rolled-back")
			require.NoError(t, s.CreatePendingGrant(ctx, g))
			require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approveAlice(), t0))

			txCtx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.ConsumePendingGrant(txCtx, g.Kind, g.HandleSignature))
			require.NoError(t, s.CreateAccessTokenSession(txCtx, "tx-at", testRequest(c, "tx-req")))
			require.NoError(t, s.CreatePendingGrant(txCtx, newGrant(c, "tx-new")))
			require.NoError(t, s.Rollback(txCtx))

			_, err = s.GetAccessTokenSession(ctx, "tx-at", &openid.DefaultSession{})
			require.ErrorIs(t, err, fosite.ErrNotFound)
			_, err = s.GetPendingGrant(ctx, pending.KindDeviceCode, "tx-new", nil)
			require.ErrorIs(t, err, pending.ErrNotFound)
			got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
			require.NoError(t, err)
			require.Equal(t, pending.StateApproved, got.State)
		})

		t.Run("commit keeps everything", func(t *testing.T) {
			txCtx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.CreateAccessTokenSession(txCtx, "tx-at-2", testRequest(c, "tx-req-2")))
			require.NoError(t, s.Commit(txCtx))
			_, err = s.GetAccessTokenSession(ctx, "tx-at-2", &openid.DefaultSession{})
			require.NoError(t, err)
		})

		t.Run("transactions do not nest; a context without one cannot commit", func(t *testing.T) {
			txCtx, err := s.BeginTX(ctx)
			require.NoError(t, err)
			_, err = s.BeginTX(txCtx)
			require.Error(t, err)
			require.NoError(t, s.Rollback(txCtx))
			require.Error(t, s.Commit(ctx))
		})
	})
}

func TestStateSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		s, err := sqlstore.Open(ctx, dsn)
		require.NoError(t, err)
		c := testClient()
		require.NoError(t, s.SetClient(ctx, c))
		g := newGrant(c, "durable")
		g.Extra = map[string]string{"delivery": "poll"}
		require.NoError(t, s.CreatePendingGrant(ctx, g))
		require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approveAlice(), t0))
		_, err = s.RecordPoll(ctx, g.Kind, g.HandleSignature, t0.Add(time.Second), time.Second)
		require.NoError(t, err)
		require.NoError(t, s.CreateRefreshTokenSession(ctx, "durable-rt", "durable-at", testRequest(c, "durable-req")))
		require.NoError(t, s.Close())

		s = open(t, dsn)
		v, err := s.SchemaVersion(ctx)
		require.NoError(t, err)
		require.Positive(t, v)
		got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
		require.NoError(t, err)
		require.Equal(t, pending.StateApproved, got.State)
		require.Equal(t, "alice", got.Request.GetSession().GetSubject())
		require.Equal(t, map[string]string{"delivery": "poll"}, got.Extra)
		require.True(t, t0.Add(time.Second).Equal(got.LastPolledAt))
		_, err = s.GetRefreshTokenSession(ctx, "durable-rt", &openid.DefaultSession{})
		require.NoError(t, err)
	})
}

func TestRecordPollAcrossInstances(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		one, two := open(t, dsn), open(t, dsn)
		c := testClient()
		require.NoError(t, one.SetClient(ctx, c))
		g := newGrant(c, "polled")
		require.NoError(t, one.CreatePendingGrant(ctx, g))

		steps := []struct {
			name  string
			store *sqlstore.Store
			at    time.Duration
			slow  bool
		}{
			{"first poll on instance one", one, 0, false},
			{"on time on instance two", two, 5 * time.Second, false},
			{"early on instance one", one, 6 * time.Second, true},
			{"early again on two, against the raised 10s", two, 15 * time.Second, true},
			{"on time for 15s", one, 30 * time.Second, false},
		}
		for _, st := range steps {
			slow, err := st.store.RecordPoll(ctx, g.Kind, g.HandleSignature, t0.Add(st.at), 5*time.Second)
			require.NoError(t, err, st.name)
			require.Equal(t, st.slow, slow, st.name)
		}
		got, err := two.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, 15*time.Second, got.Interval)

		// Concurrent early polls: every one after the first is early, and each raises the interval once.
		g2 := newGrant(c, "stampede")
		require.NoError(t, one.CreatePendingGrant(ctx, g2))
		var wg sync.WaitGroup
		var mu sync.Mutex
		slowCount := 0
		for i := 0; i < 16; i++ {
			s := one
			if i%2 == 1 {
				s = two
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				slow, err := s.RecordPoll(ctx, g2.Kind, g2.HandleSignature, t0, time.Second)
				mu.Lock()
				defer mu.Unlock()
				require.NoError(t, err)
				if slow {
					slowCount++
				}
			}()
		}
		wg.Wait()
		require.Equal(t, 15, slowCount)
		got, err = one.GetPendingGrant(ctx, g2.Kind, g2.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, 5*time.Second+15*time.Second, got.Interval)
	})
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		s, c := newStoreWithClient(t, b, sqlstore.WithRetention(time.Hour))

		live := newGrant(c, "live")
		live.ExpiresAt = t0.Add(3 * time.Hour)
		consumed := newGrant(c, "consumed-recently")
		old := newGrant(c, "long-expired")
		for _, g := range []*pending.Grant{live, consumed, old} {
			require.NoError(t, s.CreatePendingGrant(ctx, g))
		}
		_, err := s.DB().Exec(map[string]string{
			"sqlite":   "UPDATE pending_grants SET expires_at = ? WHERE handle_signature = ?",
			"postgres": "UPDATE pending_grants SET expires_at = $1 WHERE handle_signature = $2",
		}[s.Dialect()], t0.Add(-2*time.Hour).UnixNano(), old.HandleSignature)
		require.NoError(t, err)

		expiredAT := testRequest(c, "expired")
		expiredAT.Session.SetExpiresAt(fosite.AccessToken, t0.Add(-time.Minute))
		require.NoError(t, s.CreateAccessTokenSession(ctx, "at-expired", expiredAT))
		require.NoError(t, s.CreateAccessTokenSession(ctx, "at-live", testRequest(c, "live")))
		require.NoError(t, s.SetClientAssertionJWT(ctx, "jti-expired", t0.Add(-time.Minute)))
		_, err = s.IncrementAttempts(ctx, "ip:1", t0.Add(-time.Hour), time.Minute)
		require.NoError(t, err)
		_, err = s.IncrementAttempts(ctx, "ip:2", t0, time.Minute)
		require.NoError(t, err)

		n, err := s.Purge(ctx, t0)
		require.NoError(t, err)
		require.Equal(t, 4, n, "one old grant, one expired access token, one JWT ID, one attempt counter")

		for _, g := range []*pending.Grant{live, consumed} {
			_, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
			require.NoError(t, err, "%s is kept", g.HandleSignature)
		}
		_, err = s.GetPendingGrant(ctx, old.Kind, old.HandleSignature, nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
		_, err = s.GetAccessTokenSession(ctx, "at-expired", &openid.DefaultSession{})
		require.ErrorIs(t, err, fosite.ErrNotFound)
		_, err = s.GetAccessTokenSession(ctx, "at-live", &openid.DefaultSession{})
		require.NoError(t, err)
		attempts, err := s.GetAttempts(ctx, "ip:2", t0, time.Minute)
		require.NoError(t, err)
		require.Equal(t, 1, attempts)

		n, err = s.Purge(ctx, t0)
		require.NoError(t, err)
		require.Zero(t, n, "purging twice deletes nothing more")
	})
}

func TestOpenRefusesInMemorySQLite(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"", ":memory:", "file::memory:?cache=shared", "file:x?mode=memory"} {
		_, err := sqlstore.Open(context.Background(), dsn)
		require.Error(t, err, dsn)
	}
}
