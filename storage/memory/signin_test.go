package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/signin"
	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestSignInConformance(t *testing.T) {
	storagetest.RunSignInStorageTests(t, func(*testing.T) signin.Storage { return memory.New() })
}

// TestSignInSessionsAreSwept: sessions nobody reads again do not pile up; once the map has grown, a read
// drops every expired one, and live ones stay.
func TestSignInSessionsAreSwept(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	live := &signin.Session{IDHash: signin.HashSessionID("live"), Subject: "alice", AuthTime: t0, ExpiresAt: t0.Add(48 * time.Hour)}
	require.NoError(t, s.CreateSignInSession(ctx, live))
	for i := 0; i < 5000; i++ {
		require.NoError(t, s.CreateSignInSession(ctx, &signin.Session{
			IDHash: signin.HashSessionID(fmt.Sprint(i)), Subject: "bob", AuthTime: t0, ExpiresAt: t0.Add(time.Hour),
		}))
	}
	later := t0.Add(2 * time.Hour)
	_, err := s.GetSignInSession(ctx, signin.HashSessionID("other"), later)
	require.ErrorIs(t, err, fosite.ErrNotFound)
	require.Equal(t, 1, s.SignInSessionCount())
	got, err := s.GetSignInSession(ctx, live.IDHash, later)
	require.NoError(t, err)
	require.Equal(t, "alice", got.Subject)
}
