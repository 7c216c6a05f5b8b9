package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
)

// TestClientAssertionJTIs: a client assertion's jti is refused while it is remembered, forgotten once
// it expires, and expired entries do not pile up.
func TestClientAssertionJTIs(t *testing.T) {
	ctx := context.Background()
	s := New()
	future := time.Now().Add(time.Hour)

	require.NoError(t, s.ClientAssertionJWTValid(ctx, "a"))
	require.NoError(t, s.SetClientAssertionJWT(ctx, "a", future))
	require.ErrorIs(t, s.ClientAssertionJWTValid(ctx, "a"), fosite.ErrJTIKnown)
	require.ErrorIs(t, s.SetClientAssertionJWT(ctx, "a", future), fosite.ErrJTIKnown)
	used, err := s.IsJWTUsed(ctx, "a")
	require.NoError(t, err)
	require.True(t, used, "the JWT bearer grant shares the memory")
	used, err = s.IsJWTUsed(ctx, "b")
	require.NoError(t, err)
	require.False(t, used)
	require.NoError(t, s.MarkJWTUsedForTime(ctx, "b", future))
	require.ErrorIs(t, s.ClientAssertionJWTValid(ctx, "b"), fosite.ErrJTIKnown)

	// Expired IDs are accepted again and swept out when a new one arrives.
	past := time.Now().Add(-time.Second)
	for i := range 1000 {
		require.NoError(t, s.SetClientAssertionJWT(ctx, fmt.Sprintf("old-%d", i), past))
	}
	require.NoError(t, s.ClientAssertionJWTValid(ctx, "old-7"), "an expired jti is not known")
	require.NoError(t, s.SetClientAssertionJWT(ctx, "new", future))
	require.Len(t, s.jtis.expires, 3, "a, b and new remain")
	require.Len(t, s.jtis.byTime, 3)
	require.NoError(t, s.SetClientAssertionJWT(ctx, "old-7", future), "an expired jti may be used again")
	require.ErrorIs(t, s.ClientAssertionJWTValid(ctx, "a"), fosite.ErrJTIKnown)
}
