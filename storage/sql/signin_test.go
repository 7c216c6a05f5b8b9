package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/signin"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestSignInStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunSignInStorageTests(t, func(t *testing.T) signin.Storage { return open(t, b.fresh(t)) })
	})
}

// TestSignInSessionsSurviveARestart: a session created before the store is closed is there when it is
// opened again (a restart signs nobody out), and one deleted before stays deleted.
func TestSignInSessionsSurviveARestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dsn := b.fresh(t)
		s := open(t, dsn)
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		kept := &signin.Session{IDHash: signin.HashSessionID("kept"), Subject: "alice", AuthTime: t0, ExpiresAt: t0.Add(time.Hour)}
		ended := &signin.Session{IDHash: signin.HashSessionID("ended"), Subject: "alice", AuthTime: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, s.CreateSignInSession(ctx, kept))
		require.NoError(t, s.CreateSignInSession(ctx, ended))
		require.NoError(t, s.DeleteSignInSession(ctx, ended.IDHash))
		require.NoError(t, s.Close())

		s = open(t, dsn)
		got, err := s.GetSignInSession(ctx, kept.IDHash, t0)
		require.NoError(t, err)
		require.Equal(t, "alice", got.Subject)
		_, err = s.GetSignInSession(ctx, ended.IDHash, t0)
		require.ErrorIs(t, err, fosite.ErrNotFound)
	})
}

// TestPurgeDeletesExpiredSignInSessions: Purge deletes every sign-in session expired at its time, over
// several batches, and no live one.
func TestPurgeDeletesExpiredSignInSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b.fresh(t))
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		const expired = 1234 // more than two batches
		txCtx, err := s.BeginTX(ctx)
		require.NoError(t, err)
		for i := 0; i < expired; i++ {
			require.NoError(t, s.CreateSignInSession(txCtx, &signin.Session{
				IDHash: signin.HashSessionID(fmt.Sprint(i)), Subject: "bob", AuthTime: t0, ExpiresAt: t0.Add(time.Duration(i%61) * time.Minute),
			}))
		}
		require.NoError(t, s.Commit(txCtx))
		live := &signin.Session{IDHash: signin.HashSessionID("live"), Subject: "alice", AuthTime: t0, ExpiresAt: t0.Add(2 * time.Hour)}
		require.NoError(t, s.CreateSignInSession(ctx, live))

		n, err := s.Purge(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, expired, n)
		n, err = s.Purge(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Zero(t, n)
		got, err := s.GetSignInSession(ctx, live.IDHash, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, "alice", got.Subject)
	})
}
