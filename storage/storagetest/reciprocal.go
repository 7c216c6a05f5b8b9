package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// ReciprocalFactory returns a fresh, empty store in which client exists. It is called once per test.
type ReciprocalFactory func(t *testing.T, client fosite.Client) reciprocal.TokenStorage

// RunReciprocalStorageTests is the conformance suite of reciprocal.TokenStorage: rows keyed by (client,
// subject), replaced by a later write, returned exactly as written, deleted, and fosite.ErrNotFound for
// anything missing.
func RunReciprocalStorageTests(t *testing.T, factory ReciprocalFactory) {
	ctx := context.Background()
	client := &fosite.DefaultClient{ID: "storagetest-partner", GrantTypes: []string{string(reciprocal.GrantType)}}
	row := func(subject string, n int) *reciprocal.StoredToken {
		return &reciprocal.StoredToken{
			ClientID: client.ID, Subject: subject, Sealed: []byte(fmt.Sprintf("sealed\x00%d\xff", n)),
			CodeHash: fmt.Sprintf("code-hash-%d", n), Scope: "openid profile",
			ExpiresAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Duration(n) * time.Second),
		}
	}

	t.Run("missing row is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		_, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		require.ErrorIs(t, s.DeleteReciprocalToken(ctx, client.ID, "alice"), fosite.ErrNotFound)
	})

	t.Run("round trip keeps every field", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		want := row("alice", 1)
		require.NoError(t, s.SetReciprocalToken(ctx, want))
		got, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.Equal(t, want.Sealed, got.Sealed)
		require.Equal(t, want.CodeHash, got.CodeHash)
		require.Equal(t, want.Scope, got.Scope)
		require.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "expires %v, got %v", want.ExpiresAt, got.ExpiresAt)
		require.True(t, want.UpdatedAt.Equal(got.UpdatedAt))
		require.Equal(t, want.ClientID, got.ClientID)
		require.Equal(t, want.Subject, got.Subject)
	})

	t.Run("zero expiry stays zero", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		r := row("alice", 1)
		r.ExpiresAt = time.Time{}
		require.NoError(t, s.SetReciprocalToken(ctx, r))
		got, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.True(t, got.ExpiresAt.IsZero())
	})

	t.Run("a later write replaces the row", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		require.NoError(t, s.SetReciprocalToken(ctx, row("alice", 1)))
		require.NoError(t, s.SetReciprocalToken(ctx, row("alice", 2)))
		got, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.Equal(t, "code-hash-2", got.CodeHash)
		require.Equal(t, row("alice", 2).Sealed, got.Sealed)
	})

	t.Run("rows are per subject", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		require.NoError(t, s.SetReciprocalToken(ctx, row("alice", 1)))
		require.NoError(t, s.SetReciprocalToken(ctx, row("bob", 2)))
		require.NoError(t, s.DeleteReciprocalToken(ctx, client.ID, "alice"))
		_, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
		got, err := s.GetReciprocalToken(ctx, client.ID, "bob")
		require.NoError(t, err)
		require.Equal(t, "code-hash-2", got.CodeHash)
	})

	t.Run("returned rows are copies", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		r := row("alice", 1)
		require.NoError(t, s.SetReciprocalToken(ctx, r))
		r.Sealed[0] = 'X'
		got, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.Equal(t, byte('s'), got.Sealed[0])
		got.Sealed[0] = 'Y'
		again, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.NoError(t, err)
		require.Equal(t, byte('s'), again.Sealed[0])
	})

	t.Run("concurrent replacements leave one whole row", func(t *testing.T) {
		t.Parallel()
		s := factory(t, client)
		var wg sync.WaitGroup
		for i := 1; i <= 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, s.SetReciprocalToken(ctx, row("alice", i)))
			}()
		}
		wg.Wait()
		got, err := s.GetReciprocalToken(ctx, client.ID, "alice")
		require.NoError(t, err)
		var n int
		_, err = fmt.Sscanf(got.CodeHash, "code-hash-%d", &n)
		require.NoError(t, err)
		require.Equal(t, row("alice", n).Sealed, got.Sealed, "sealed token and code hash come from the same write")
	})
}
