package pending_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/memory"
)

// TestLimiter checks the RFC 8628 §5.1 guessing bound over the real in-memory attempt store.
func TestLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	newLimiter := func() *pending.Limiter {
		return &pending.Limiter{Storage: memory.New(), Scope: "test", PerKey: 3, Global: 5, Window: time.Minute}
	}
	requireRefused := func(t *testing.T, err error) {
		t.Helper()
		require.ErrorIs(t, err, pending.ErrTooManyAttempts)
		rfc := fosite.ErrorToRFC6749Error(err)
		require.Equal(t, "temporarily_unavailable", rfc.ErrorField)
		require.Equal(t, http.StatusTooManyRequests, rfc.StatusCode())
	}

	t.Run("per key", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		for i := 0; i < 3; i++ {
			require.NoError(t, l.Allow(ctx, "a", t0))
			require.NoError(t, l.Fail(ctx, "a", t0))
		}
		requireRefused(t, l.Allow(ctx, "a", t0))
		require.NoError(t, l.Allow(ctx, "b", t0), "another key is not limited")
		require.NoError(t, l.Allow(ctx, "a", t0.Add(time.Minute)), "the window passed")
	})
	t.Run("global", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			require.NoError(t, l.Fail(ctx, k, t0))
		}
		requireRefused(t, l.Allow(ctx, "f", t0))
		require.NoError(t, l.Allow(ctx, "f", t0.Add(time.Minute)))
	})
	t.Run("scopes are separate", func(t *testing.T) {
		t.Parallel()
		store := memory.New()
		a := &pending.Limiter{Storage: store, Scope: "a", PerKey: 1, Window: time.Minute}
		b := &pending.Limiter{Storage: store, Scope: "b", PerKey: 1, Window: time.Minute}
		require.NoError(t, a.Fail(ctx, "k", t0))
		requireRefused(t, a.Allow(ctx, "k", t0))
		require.NoError(t, b.Allow(ctx, "k", t0))
	})
	t.Run("zero limits disable", func(t *testing.T) {
		t.Parallel()
		l := &pending.Limiter{Storage: memory.New(), Scope: "z", Window: time.Minute}
		for i := 0; i < 100; i++ {
			require.NoError(t, l.Fail(ctx, "k", t0))
		}
		require.NoError(t, l.Allow(ctx, "k", t0))
	})
	t.Run("nil limiter allows", func(t *testing.T) {
		t.Parallel()
		var l *pending.Limiter
		require.NoError(t, l.Fail(ctx, "k", t0))
		require.NoError(t, l.Allow(ctx, "k", t0))
	})
}
