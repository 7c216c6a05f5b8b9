package storagetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

// SMSFactory returns a fresh, empty smschannel.Store. It is called once per test.
type SMSFactory func(t *testing.T) smschannel.Store

// RunCIBASMSStorageTests is the conformance suite of smschannel.Store: every field returned as written;
// a signature that is live (used or not) cannot be taken again until it expires; a binding is used once,
// even by many concurrent callers; expired and missing bindings are ErrUsed and ErrNotFound, changing
// nothing.
func RunCIBASMSStorageTests(t *testing.T, factory SMSFactory) {
	ctx := context.Background()
	binding := func(sig string, n int) *smschannel.Binding {
		return &smschannel.Binding{
			Signature: sig, Ref: fmt.Sprintf("ref-%d", n), Subject: "dave", ClientID: "storagetest-client",
			ClientName: "Kiosk «Nord»", Scopes: []string{"openid", "profile"}, Locale: "de-CH",
			CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
		}
	}

	t.Run("missing binding is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		_, err := s.GetSMSBinding(ctx, "nope")
		require.ErrorIs(t, err, smschannel.ErrNotFound)
		require.ErrorIs(t, s.UseSMSBinding(ctx, "nope", t0, smschannel.OutcomeApproved), smschannel.ErrNotFound)
	})

	t.Run("round trip keeps every field", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		want := binding("sig-1", 1)
		require.NoError(t, s.CreateSMSBinding(ctx, want, t0))
		got, err := s.GetSMSBinding(ctx, "sig-1")
		require.NoError(t, err)
		require.Equal(t, want.Ref, got.Ref)
		require.Equal(t, want.Subject, got.Subject)
		require.Equal(t, want.ClientID, got.ClientID)
		require.Equal(t, want.ClientName, got.ClientName)
		require.Equal(t, want.Scopes, got.Scopes)
		require.Equal(t, want.Locale, got.Locale)
		require.True(t, want.CreatedAt.Equal(got.CreatedAt))
		require.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
		require.True(t, got.UsedAt.IsZero())
		require.Empty(t, got.Outcome)
	})

	t.Run("a live code is taken until it expires, used or not", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.CreateSMSBinding(ctx, binding("sig-1", 1), t0))
		require.ErrorIs(t, s.CreateSMSBinding(ctx, binding("sig-1", 2), t0.Add(time.Minute)), smschannel.ErrCodeTaken)
		require.NoError(t, s.UseSMSBinding(ctx, "sig-1", t0.Add(time.Minute), smschannel.OutcomeDenied))
		require.ErrorIs(t, s.CreateSMSBinding(ctx, binding("sig-1", 3), t0.Add(2*time.Minute)), smschannel.ErrCodeTaken,
			"a used code was given to a new request before it expired: a repeated reply could decide that one")
		got, err := s.GetSMSBinding(ctx, "sig-1")
		require.NoError(t, err)
		require.Equal(t, "ref-1", got.Ref, "a refused create changed the row")

		later := binding("sig-1", 4)
		later.CreatedAt, later.ExpiresAt = t0.Add(10*time.Minute), t0.Add(20*time.Minute)
		require.NoError(t, s.CreateSMSBinding(ctx, later, t0.Add(10*time.Minute)), "an expired code is free again")
		got, err = s.GetSMSBinding(ctx, "sig-1")
		require.NoError(t, err)
		require.Equal(t, "ref-4", got.Ref)
		require.True(t, got.UsedAt.IsZero(), "the new binding inherited the old one's use")
		require.NoError(t, s.UseSMSBinding(ctx, "sig-1", t0.Add(11*time.Minute), smschannel.OutcomeApproved))
	})

	t.Run("use records the outcome once", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.CreateSMSBinding(ctx, binding("sig-1", 1), t0))
		at := t0.Add(time.Minute)
		require.NoError(t, s.UseSMSBinding(ctx, "sig-1", at, smschannel.OutcomeApproved))
		require.ErrorIs(t, s.UseSMSBinding(ctx, "sig-1", at, smschannel.OutcomeDenied), smschannel.ErrUsed)
		got, err := s.GetSMSBinding(ctx, "sig-1")
		require.NoError(t, err)
		require.Equal(t, smschannel.OutcomeApproved, got.Outcome)
		require.True(t, at.Equal(got.UsedAt))
	})

	t.Run("an expired code is not used", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.CreateSMSBinding(ctx, binding("sig-1", 1), t0))
		require.ErrorIs(t, s.UseSMSBinding(ctx, "sig-1", t0.Add(10*time.Minute), smschannel.OutcomeApproved), smschannel.ErrUsed)
		got, err := s.GetSMSBinding(ctx, "sig-1")
		require.NoError(t, err)
		require.True(t, got.UsedAt.IsZero())
	})

	t.Run("concurrent uses: exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := factory(t)
		require.NoError(t, s.CreateSMSBinding(ctx, binding("sig-1", 1), t0))
		var won atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.UseSMSBinding(ctx, "sig-1", t0.Add(time.Second), smschannel.OutcomeApproved)
				if err == nil {
					won.Add(1)
					return
				}
				require.ErrorIs(t, err, smschannel.ErrUsed)
			}()
		}
		wg.Wait()
		require.Equal(t, int32(1), won.Load())
	})
}
