package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"
)

// BenchmarkPoll measures one device poll: read the grant, then record the poll.
func BenchmarkPoll(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := open(b, be.fresh(b))
			c := testClient()
			require.NoError(b, s.SetClient(ctx, c))
			g := newGrant(c, "bench-poll")
			require.NoError(b, s.CreatePendingGrant(ctx, g))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{}); err != nil {
					b.Fatal(err)
				}
				if _, err := s.RecordPoll(ctx, g.Kind, g.HandleSignature, t0.Add(time.Duration(i)*time.Minute), time.Second); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRedeem measures one redemption: consume an approved grant and store its access token in
// one transaction. Grants are created and approved outside the timer.
func BenchmarkRedeem(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := open(b, be.fresh(b))
			c := testClient()
			require.NoError(b, s.SetClient(ctx, c))
			for i := 0; i < b.N; i++ {
				g := newGrant(c, fmt.Sprintf("bench-redeem-%d", i))
				require.NoError(b, s.CreatePendingGrant(ctx, g))
				require.NoError(b, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approveAlice(), t0))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g := newGrant(c, fmt.Sprintf("bench-redeem-%d", i))
				if err := redeem(ctx, s, g, fmt.Sprintf("bench-at-%d", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
