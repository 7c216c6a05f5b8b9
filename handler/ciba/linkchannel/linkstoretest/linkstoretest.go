// Package linkstoretest is the conformance suite for linkchannel.Store implementations: every store
// (memory, SQLite, PostgreSQL) must pass it.
package linkstoretest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
)

// Run runs the suite; newStore returns a fresh, empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) linkchannel.Store) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0).UTC()
	link := func(sig string) *linkchannel.Link {
		return &linkchannel.Link{
			Signature: sig, Ref: "ref-" + sig, Subject: "alice", ClientID: "c1", ClientName: "Client One",
			Scopes: []string{"openid", "email"}, BindingMessage: "W4SCT <b>", Locale: "de",
			CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute),
		}
	}

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, s.CreateCIBALink(ctx, link("a")))
		got, err := s.GetCIBALink(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, link("a"), got)
	})
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.GetCIBALink(ctx, "nope")
		require.ErrorIs(t, err, linkchannel.ErrNotFound)
		require.ErrorIs(t, s.UseCIBALink(ctx, "nope", now, linkchannel.OutcomeApproved), linkchannel.ErrNotFound)
	})
	t.Run("duplicate signature", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, s.CreateCIBALink(ctx, link("a")))
		require.Error(t, s.CreateCIBALink(ctx, link("a")))
	})
	t.Run("used once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, s.CreateCIBALink(ctx, link("a")))
		at := now.Add(time.Minute)
		require.NoError(t, s.UseCIBALink(ctx, "a", at, linkchannel.OutcomeDenied))
		require.ErrorIs(t, s.UseCIBALink(ctx, "a", at, linkchannel.OutcomeApproved), linkchannel.ErrUsed)
		got, err := s.GetCIBALink(ctx, "a")
		require.NoError(t, err)
		require.True(t, got.UsedAt.Equal(at))
		require.Equal(t, linkchannel.OutcomeDenied, got.Outcome, "the second use changed nothing")
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, s.CreateCIBALink(ctx, link("a")))
		require.ErrorIs(t, s.UseCIBALink(ctx, "a", now.Add(5*time.Minute), linkchannel.OutcomeApproved), linkchannel.ErrUsed)
		got, err := s.GetCIBALink(ctx, "a")
		require.NoError(t, err)
		require.True(t, got.UsedAt.IsZero())
		require.Empty(t, got.Outcome)
	})
	t.Run("concurrent uses", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, s.CreateCIBALink(ctx, link("a")))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.UseCIBALink(ctx, "a", now.Add(time.Second), linkchannel.OutcomeApproved)
				if err == nil {
					wins.Add(1)
					return
				}
				require.ErrorIs(t, err, linkchannel.ErrUsed)
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load())
	})
}
