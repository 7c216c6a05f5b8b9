package ciba_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestUserCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := memory.New()
	u, err := ciba.NewUserCodes(store, store, &fosite.Config{GlobalSecret: []byte("0123456789abcdef0123456789abcdef")}, pending.Limits{}, func() time.Time { return now })
	require.NoError(t, err)

	require.ErrorIs(t, u.CheckUserCode(ctx, "alice", "1234"), ciba.ErrInvalidUserCode, "no code set")
	for _, weak := range []string{"", "123", strings.Repeat("9", ciba.MaxUserCodeLength+1), "12\n34"} {
		require.ErrorIs(t, u.Set(ctx, "alice", weak), ciba.ErrWeakUserCode, "%q", weak)
	}
	require.NoError(t, u.Set(ctx, "alice", "4711"))
	require.NoError(t, u.Set(ctx, "bob", "4711"))
	ha, _ := store.GetCIBAUserCode(ctx, "alice")
	hb, _ := store.GetCIBAUserCode(ctx, "bob")
	require.NotContains(t, ha, "4711")
	require.NotEqual(t, ha, hb, "the same code of two users hashes alike")

	require.NoError(t, u.CheckUserCode(ctx, "alice", "4711"))
	require.ErrorIs(t, u.CheckUserCode(ctx, "alice", "4712"), ciba.ErrInvalidUserCode)
	has, err := u.HasCode(ctx, "alice")
	require.NoError(t, err)
	require.True(t, has)

	// Wrong codes are limited per user: past the limit even the right code is refused, bob is not.
	for range ciba.DefaultUserCodeCheckLimits.PerAccount {
		_ = u.CheckUserCode(ctx, "alice", "0000")
	}
	err = u.CheckUserCode(ctx, "alice", "4711")
	require.ErrorIs(t, err, ciba.ErrInvalidUserCode)
	require.Contains(t, fosite.ErrorToRFC6749Error(err).HintField, "Too many wrong user codes")
	require.NoError(t, u.CheckUserCode(ctx, "bob", "4711"))
	now = now.Add(ciba.DefaultUserCodeCheckLimits.Window)
	require.NoError(t, u.CheckUserCode(ctx, "alice", "4711"), "after the window")

	require.NoError(t, u.Clear(ctx, "alice"))
	require.NoError(t, u.Clear(ctx, "alice"), "clearing twice")
	require.ErrorIs(t, u.CheckUserCode(ctx, "alice", "4711"), ciba.ErrInvalidUserCode)
}
