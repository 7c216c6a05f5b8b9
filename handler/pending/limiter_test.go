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

// TestLimiter checks the RFC 8628 §5.1 guessing bound over the real in-memory attempt store, and that
// no limit can be turned against people who did nothing wrong.
func TestLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	newLimiter := func() *pending.Limiter {
		return &pending.Limiter{Storage: memory.New(), Scope: "test",
			Limits: pending.Limits{PerAddress: 3, Global: 5, PerAccount: 3, GlobalSignedIn: 7, Window: time.Minute}}
	}
	addr := func(a string) pending.Caller { return pending.Caller{Address: a} }
	user := func(a, account string) pending.Caller { return pending.Caller{Address: a, Account: account} }
	requireRefused := func(t *testing.T, err error) {
		t.Helper()
		require.ErrorIs(t, err, pending.ErrTooManyAttempts)
		rfc := fosite.ErrorToRFC6749Error(err)
		require.Equal(t, "temporarily_unavailable", rfc.ErrorField)
		require.Equal(t, http.StatusTooManyRequests, rfc.StatusCode())
	}

	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		for i := 0; i < 3; i++ {
			require.NoError(t, l.Allow(ctx, addr("a"), t0))
			require.NoError(t, l.Fail(ctx, addr("a"), t0))
		}
		requireRefused(t, l.Allow(ctx, addr("a"), t0))
		require.NoError(t, l.Allow(ctx, addr("b"), t0), "another address is not limited")
		require.NoError(t, l.Allow(ctx, user("a", "alice"), t0), "a signed-in person at that address is not limited")
		require.NoError(t, l.Allow(ctx, addr("a"), t0.Add(time.Minute)), "the window passed")
	})
	t.Run("global", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			require.NoError(t, l.Fail(ctx, addr(k), t0))
		}
		requireRefused(t, l.Allow(ctx, addr("f"), t0))
		require.NoError(t, l.Allow(ctx, user("f", "alice"), t0), "a flood from many addresses does not stop signed-in people")
		require.NoError(t, l.Allow(ctx, addr("f"), t0.Add(time.Minute)))
	})
	t.Run("per account", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		for _, a := range []string{"a", "b", "c"} {
			require.NoError(t, l.Fail(ctx, user(a, "mallory"), t0))
		}
		requireRefused(t, l.Allow(ctx, user("d", "mallory"), t0)) // an account is limited wherever it guesses from
		require.NoError(t, l.Allow(ctx, user("a", "alice"), t0), "another account is not")
		require.NoError(t, l.Allow(ctx, addr("a"), t0), "nor are anonymous callers at those addresses")
	})
	t.Run("global signed-in", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7"} {
			require.NoError(t, l.Fail(ctx, user("a", u), t0))
		}
		requireRefused(t, l.Allow(ctx, user("b", "u8"), t0))
		require.NoError(t, l.Allow(ctx, addr("b"), t0), "anonymous callers count apart")
	})
	t.Run("scopes are separate", func(t *testing.T) {
		t.Parallel()
		store := memory.New()
		a := &pending.Limiter{Storage: store, Scope: "a", Limits: pending.Limits{PerAddress: 1, Window: time.Minute}}
		b := &pending.Limiter{Storage: store, Scope: "b", Limits: pending.Limits{PerAddress: 1, Window: time.Minute}}
		require.NoError(t, a.Fail(ctx, addr("k"), t0))
		requireRefused(t, a.Allow(ctx, addr("k"), t0))
		require.NoError(t, b.Allow(ctx, addr("k"), t0))
	})
	t.Run("zero limits disable", func(t *testing.T) {
		t.Parallel()
		l := &pending.Limiter{Storage: memory.New(), Scope: "z", Limits: pending.Limits{Window: time.Minute}}
		for i := 0; i < 100; i++ {
			require.NoError(t, l.Fail(ctx, addr("k"), t0))
			require.NoError(t, l.Fail(ctx, user("k", "alice"), t0))
		}
		require.NoError(t, l.Allow(ctx, addr("k"), t0))
		require.NoError(t, l.Allow(ctx, user("k", "alice"), t0))
	})
	t.Run("nil limiter allows", func(t *testing.T) {
		t.Parallel()
		var l *pending.Limiter
		require.NoError(t, l.Fail(ctx, addr("k"), t0))
		require.NoError(t, l.Allow(ctx, addr("k"), t0))
	})
}

// TestLimitsOr: in options, zero means the default and a negative limit turns it off.
func TestLimitsOr(t *testing.T) {
	t.Parallel()
	got := pending.Limits{PerAddress: 7, Global: -1}.Or(pending.DefaultUserCodeLimits)
	require.Equal(t, pending.Limits{PerAddress: 7, Global: 0, PerAccount: 20, GlobalSignedIn: 1000, Window: 15 * time.Minute}, got)
}

// TestLimiterRemaining: Remaining says how many more wrong codes a caller may type before Allow
// refuses them: the tightest counter that applies, down to 0 exactly when Allow refuses; it changes
// nothing, and says "no limit" when none applies.
func TestLimiterRemaining(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	type want struct {
		left    int
		limited bool
	}
	for _, c := range []struct {
		name   string
		limits pending.Limits
		who    pending.Caller
		fails  []pending.Caller // failures recorded before asking
		at     time.Time
		want   want
	}{
		{"fresh address", pending.Limits{PerAddress: 3, Global: 5, Window: time.Minute},
			pending.Caller{Address: "a"}, nil, t0, want{3, true}},
		{"after two wrong codes", pending.Limits{PerAddress: 3, Global: 5, Window: time.Minute},
			pending.Caller{Address: "a"}, []pending.Caller{{Address: "a"}, {Address: "a"}}, t0, want{1, true}},
		{"the global counter is tighter", pending.Limits{PerAddress: 3, Global: 5, Window: time.Minute},
			pending.Caller{Address: "a"}, []pending.Caller{{Address: "b"}, {Address: "c"}, {Address: "d"}, {Address: "e"}}, t0, want{1, true}},
		{"full", pending.Limits{PerAddress: 2, Window: time.Minute},
			pending.Caller{Address: "a"}, []pending.Caller{{Address: "a"}, {Address: "a"}, {Address: "a"}}, t0, want{0, true}},
		{"the window passed", pending.Limits{PerAddress: 2, Window: time.Minute},
			pending.Caller{Address: "a"}, []pending.Caller{{Address: "a"}, {Address: "a"}}, t0.Add(time.Minute), want{2, true}},
		{"signed in: the account's counter, not the address's", pending.Limits{PerAddress: 3, Global: 5, PerAccount: 4, GlobalSignedIn: 9, Window: time.Minute},
			pending.Caller{Address: "a", Account: "alice"}, []pending.Caller{{Address: "a"}, {Address: "a"}, {Address: "z", Account: "alice"}}, t0, want{3, true}},
		{"no limit applies", pending.Limits{PerAccount: 4, Window: time.Minute},
			pending.Caller{Address: "a"}, []pending.Caller{{Address: "a"}}, t0, want{0, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := &pending.Limiter{Storage: memory.New(), Scope: "test", Limits: c.limits}
			for _, f := range c.fails {
				require.NoError(t, l.Fail(ctx, f, t0))
			}
			left, limited, err := l.Remaining(ctx, c.who, c.at)
			require.NoError(t, err)
			require.Equal(t, c.want, want{left, limited})
			again, _, err := l.Remaining(ctx, c.who, c.at)
			require.NoError(t, err)
			require.Equal(t, left, again, "asking counts nothing")
			if c.want.limited {
				if left == 0 {
					require.ErrorIs(t, l.Allow(ctx, c.who, c.at), pending.ErrTooManyAttempts)
				} else {
					require.NoError(t, l.Allow(ctx, c.who, c.at))
				}
			}
		})
	}
	var l *pending.Limiter
	left, limited, err := l.Remaining(ctx, pending.Caller{Address: "a"}, t0)
	require.NoError(t, err)
	require.False(t, limited)
	require.Zero(t, left)
}
