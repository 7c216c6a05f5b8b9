package storagetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/outbox"
)

// CounterStore is what RunCounterTests exercises: a store that counts its live grants and its outbox
// backlog for gauges (package observe).
type CounterStore interface {
	Store
	outbox.Storage
	observe.GrantCounter
	observe.BacklogCounter
}

// CounterFactory returns a fresh, empty store in which client exists. It is called once per test.
type CounterFactory func(t *testing.T, client fosite.Client) CounterStore

// RunCounterTests checks observe.GrantCounter and observe.BacklogCounter: only grants waiting for a
// person or a client count, never expired, denied or consumed ones; the backlog is the pending
// messages, due or not, and the oldest's queueing time.
func RunCounterTests(t *testing.T, newStore CounterFactory) {
	ctx := context.Background()
	t.Run("CountGrants", func(t *testing.T) {
		t.Parallel()
		c := newClient()
		s := newStore(t, c)
		f := &fixture{store: s, client: c}
		counts, err := s.CountGrants(ctx, t0)
		require.NoError(t, err)
		require.Empty(t, counts)

		f.grant(t, nil)
		f.grant(t, nil)
		f.grant(t, func(g *pending.Grant) { g.Kind = pending.KindCIBA })
		f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(time.Minute) }) // expired at the count
		approved := f.grant(t, nil)
		require.NoError(t, s.DecidePendingGrant(ctx, approved.Kind, approved.HandleSignature, approve("alice"), t0))
		denied := f.grant(t, nil)
		require.NoError(t, s.DecidePendingGrant(ctx, denied.Kind, denied.HandleSignature, pending.Decision{Subject: "bob"}, t0))
		consumed := f.grant(t, nil)
		require.NoError(t, s.DecidePendingGrant(ctx, consumed.Kind, consumed.HandleSignature, approve("alice"), t0))
		require.NoError(t, s.ConsumePendingGrant(ctx, consumed.Kind, consumed.HandleSignature))

		counts, err = s.CountGrants(ctx, t0.Add(2*time.Minute))
		require.NoError(t, err)
		slices.SortFunc(counts, func(a, b observe.GrantCount) int {
			if a.Grant+a.State < b.Grant+b.State {
				return -1
			}
			return 1
		})
		require.Equal(t, []observe.GrantCount{
			{Grant: "ciba", State: "pending", Count: 1},
			{Grant: "device_code", State: "approved", Count: 1},
			{Grant: "device_code", State: "pending", Count: 2},
		}, counts)

		counts, err = s.CountGrants(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Empty(t, counts, "everything has expired")
	})

	t.Run("OutboxBacklog", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, newClient())
		b, err := s.OutboxBacklog(ctx)
		require.NoError(t, err)
		require.Equal(t, observe.Backlog{}, b)

		sealer, err := outbox.NewSealer([]byte("storagetest-outbox-key-of-32-bytes!"))
		require.NoError(t, err)
		q := &outbox.Queue{Storage: s, Sealer: sealer}
		for i, at := range []time.Time{t0.Add(time.Minute), t0, t0.Add(time.Hour)} {
			m := outbox.WebhookMessage(string(rune('a'+i)), outbox.KindCIBAPing, "https://client.example/cb", "", []byte(`{}`))
			m.CreatedAt = at
			require.NoError(t, q.Enqueue(ctx, m))
		}
		b, err = s.OutboxBacklog(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, b.Messages, "due or not")
		require.True(t, t0.Equal(b.Oldest), "%v", b.Oldest)

		// A delivered message leaves the backlog.
		recs, err := s.ClaimOutbox(ctx, t0.Add(30*time.Second), 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		now := t0.Add(31 * time.Second)
		require.NoError(t, s.CompleteOutbox(ctx, recs[0].ID, outbox.Attempt{MessageID: recs[0].ID, Number: 1, Lease: recs[0].Lease,
			StartedAt: now, At: now, Outcome: outbox.OutcomeDelivered}))
		b, err = s.OutboxBacklog(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, b.Messages)
		require.True(t, t0.Add(time.Minute).Equal(b.Oldest), "%v", b.Oldest)
	})
}
