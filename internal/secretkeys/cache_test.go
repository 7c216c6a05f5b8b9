package secretkeys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/secretkeys"
)

// TestCache: keys are derived once per secret, again after a rotation, and a derivation's error is
// Get's (nothing cached).
func TestCache(t *testing.T) {
	cfg := &fosite.Config{GlobalSecret: []byte("first-secret-of-at-least-32-bytes!")}
	derived := 0
	c := &secretkeys.Cache[string]{Secrets: cfg, Derive: func(secret []byte) (string, error) {
		derived++
		if len(secret) < 32 {
			return "", errors.New("too short")
		}
		return "keys of " + string(secret), nil
	}}
	ctx := context.Background()
	for range 3 {
		k, err := c.Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "keys of first-secret-of-at-least-32-bytes!", k)
	}
	require.Equal(t, 1, derived, "derived once for one secret")

	cfg.GlobalSecret = []byte("second-secret-of-at-least-32-bytes")
	k, err := c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "keys of second-secret-of-at-least-32-bytes", k, "a rotation is noticed on the next use")
	require.Equal(t, 2, derived)

	cfg.GlobalSecret = []byte("short")
	_, err = c.Get(ctx)
	require.EqualError(t, err, "too short")
	_, err = c.Get(ctx)
	require.Error(t, err, "a failed derivation is not cached")
	require.Equal(t, 4, derived)

	_, err = (&secretkeys.Cache[string]{}).Get(ctx)
	require.Error(t, err, "no provider")
}
