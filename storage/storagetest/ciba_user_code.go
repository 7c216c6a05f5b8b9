package storagetest

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
)

// UserCodeFactory returns a fresh, empty ciba.UserCodeStorage. It is called once per test.
type UserCodeFactory func(t *testing.T) ciba.UserCodeStorage

// RunCIBAUserCodeStorageTests is the conformance suite of ciba.UserCodeStorage: one hash per user,
// returned as written, replaced by a later write, deleted, and fosite.ErrNotFound for a user without one.
func RunCIBAUserCodeStorageTests(t *testing.T, factory UserCodeFactory) {
	ctx := context.Background()
	t.Run("a user without a code is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		_, err := s.GetCIBAUserCode(ctx, "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		require.ErrorIs(t, s.DeleteCIBAUserCode(ctx, "alice"), fosite.ErrNotFound)
	})
	t.Run("set, replace, delete", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.SetCIBAUserCode(ctx, "alice", "hash-1", t0))
		require.NoError(t, s.SetCIBAUserCode(ctx, "bob", "hash-b", t0))
		h, err := s.GetCIBAUserCode(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, "hash-1", h)
		require.NoError(t, s.SetCIBAUserCode(ctx, "alice", "hash-2", t0))
		h, err = s.GetCIBAUserCode(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, "hash-2", h)
		require.NoError(t, s.DeleteCIBAUserCode(ctx, "alice"))
		_, err = s.GetCIBAUserCode(ctx, "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		h, err = s.GetCIBAUserCode(ctx, "bob")
		require.NoError(t, err)
		require.Equal(t, "hash-b", h, "deleting alice's code touched bob's")
	})
}
