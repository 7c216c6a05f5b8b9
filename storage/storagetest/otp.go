package storagetest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/pending"
)

// OTPStore is what RunOTPStorageTests exercises.
type OTPStore interface {
	otp.Storage
}

// OTPFactory returns a fresh, empty store in which client exists. It is called once per test.
type OTPFactory func(t *testing.T, client fosite.Client) OTPStore

// RunOTPStorageTests checks a store's otp.ChallengeStorage: SetChallengeCode replaces the code
// atomically, keeps the challenge's other values, honours the resend interval, state and expiry, and of
// concurrent sends in one interval exactly one wins.
func RunOTPStorageTests(t *testing.T, newStore OTPFactory) {
	ctx := context.Background()
	setup := func(t *testing.T) (OTPStore, func(mutate func(*pending.Grant)) *pending.Grant) {
		client := newClient()
		s := newStore(t, client)
		n := 0
		return s, func(mutate func(*pending.Grant)) *pending.Grant {
			n++
			req := fosite.NewRequest()
			req.Client = client
			req.RequestedAt = t0
			req.RequestedScope = fosite.Arguments{"openid"}
			req.Form = url.Values{"scope": {"openid"}}
			g := &pending.Grant{
				Kind: pending.KindOTP, HandleSignature: fmt.Sprintf("otp-handle-%d", n), Request: req,
				State: pending.StatePending, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute), ResendInterval: 30 * time.Second,
				Subject: "alice", LoginHint: "1 Main St",
				Extra: map[string]string{"channels": `[{"id":"sms-1"}]`, "quota": "q"},
			}
			if mutate != nil {
				mutate(g)
			}
			require.NoError(t, s.CreatePendingGrant(ctx, g))
			return g
		}
	}

	t.Run("first code is set and read back", func(t *testing.T) {
		t.Parallel()
		s, create := setup(t)
		g := create(nil)
		require.NoError(t, s.SetChallengeCode(ctx, g.HandleSignature, "code-1", "sms-1", t0.Add(time.Second)))
		got, err := s.GetPendingGrant(ctx, pending.KindOTP, g.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, "code-1", got.UserCodeSignature)
		require.Equal(t, "sms-1", got.Extra["channel"])
		require.Equal(t, `[{"id":"sms-1"}]`, got.Extra["channels"], "other extra values are kept")
		require.Equal(t, "q", got.Extra["quota"])
		require.True(t, got.CodeSentAt.Equal(t0.Add(time.Second)), "send time: %s", got.CodeSentAt)
		require.Equal(t, "alice", got.Subject)
		require.Equal(t, pending.StatePending, got.State)
	})

	t.Run("only the latest code is stored", func(t *testing.T) {
		t.Parallel()
		s, create := setup(t)
		g := create(nil)
		require.NoError(t, s.SetChallengeCode(ctx, g.HandleSignature, "code-1", "sms-1", t0))
		require.NoError(t, s.SetChallengeCode(ctx, g.HandleSignature, "code-2", "email-1", t0.Add(30*time.Second)))
		got, err := s.GetPendingGrant(ctx, pending.KindOTP, g.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, "code-2", got.UserCodeSignature)
		require.Equal(t, "email-1", got.Extra["channel"])
		_, err = s.GetPendingGrantByUserCode(ctx, pending.KindOTP, "code-1", t0.Add(31*time.Second), nil)
		require.ErrorIs(t, err, pending.ErrNotFound, "the old code finds nothing")
		found, err := s.GetPendingGrantByUserCode(ctx, pending.KindOTP, "code-2", t0.Add(31*time.Second), nil)
		require.NoError(t, err)
		require.Equal(t, g.HandleSignature, found.HandleSignature)
	})

	t.Run("refusals change nothing", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name   string
			mutate func(*pending.Grant)
			at     time.Duration
			want   error
		}{
			{"within the interval", func(g *pending.Grant) { g.CodeSentAt = t0.Add(10 * time.Second) }, 39 * time.Second, pending.ErrStateChanged},
			{"expired", nil, 5 * time.Minute, pending.ErrStateChanged},
			{"denied (locked out)", func(g *pending.Grant) { g.State = pending.StateDenied }, time.Second, pending.ErrStateChanged},
			{"approved", func(g *pending.Grant) { g.State = pending.StateApproved }, time.Second, pending.ErrStateChanged},
			{"consumed", func(g *pending.Grant) { g.State = pending.StateConsumed }, time.Second, pending.ErrStateChanged},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, create := setup(t)
				g := create(func(g *pending.Grant) {
					g.UserCodeSignature = "old"
					if tc.mutate != nil {
						tc.mutate(g)
					}
				})
				err := s.SetChallengeCode(ctx, g.HandleSignature, "new", "sms-1", t0.Add(tc.at))
				require.ErrorIs(t, err, tc.want)
				got, gerr := s.GetPendingGrant(ctx, pending.KindOTP, g.HandleSignature, nil)
				require.NoError(t, gerr)
				require.Equal(t, "old", got.UserCodeSignature)
				require.Empty(t, got.Extra["channel"])
			})
		}
	})

	t.Run("exactly at the interval is allowed", func(t *testing.T) {
		t.Parallel()
		s, create := setup(t)
		g := create(func(g *pending.Grant) { g.CodeSentAt = t0 })
		require.NoError(t, s.SetChallengeCode(ctx, g.HandleSignature, "c", "sms-1", t0.Add(30*time.Second)))
	})

	t.Run("unknown challenge and other kinds", func(t *testing.T) {
		t.Parallel()
		s, create := setup(t)
		require.ErrorIs(t, s.SetChallengeCode(ctx, "nope", "c", "sms-1", t0), pending.ErrNotFound)
		g := create(func(g *pending.Grant) { g.Kind = pending.KindDeviceCode })
		require.ErrorIs(t, s.SetChallengeCode(ctx, g.HandleSignature, "c", "sms-1", t0), pending.ErrNotFound,
			"a device grant with the same handle is not an OTP challenge")
	})

	t.Run("concurrent sends: one per interval", func(t *testing.T) {
		t.Parallel()
		s, create := setup(t)
		g := create(nil)
		wins := race(8, func() error {
			return s.SetChallengeCode(ctx, g.HandleSignature, fmt.Sprintf("c-%p", new(int)), "sms-1", t0.Add(time.Second))
		})
		require.Equal(t, 1, wins)
	})

	t.Run("attempt counting isolates challenges", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t)
		for i := 1; i <= 3; i++ {
			n, err := s.IncrementAttempts(ctx, "otp-guess|a", t0, 5*time.Minute)
			require.NoError(t, err)
			require.Equal(t, i, n)
		}
		n, err := s.GetAttempts(ctx, "otp-guess|b", t0, 5*time.Minute)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
