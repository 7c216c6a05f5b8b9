package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// PollStore is a store with the optional pending.PollStorage.
type PollStore interface {
	Store
	pending.PollStorage
}

// RunPollStorageTests checks a store's pending.PollStorage against what GetPendingGrant followed by
// RecordPoll does: a poll is recorded only for a pending, unexpired grant of the polling client, early
// polls answer slow_down and raise the interval, and concurrent polls are judged one after another.
func RunPollStorageTests(t *testing.T, newStore func(t *testing.T, client fosite.Client) PollStore) {
	ctx := context.Background()
	setup := func(t *testing.T) (*fixture, PollStore) {
		t.Parallel()
		c := newClient()
		s := newStore(t, c)
		return &fixture{store: s, client: c}, s
	}
	const step = 5 * time.Second
	polledAt := func(t *testing.T, f *fixture, g *pending.Grant) (time.Time, time.Duration) {
		t.Helper()
		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		return got.LastPolledAt, got.Interval
	}

	t.Run("a pending grant's polls are recorded and judged", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		poll := func(at time.Duration) bool {
			got, slow, err := s.PollPendingGrant(ctx, g.Kind, g.HandleSignature, f.client.GetID(), t0.Add(at), step, &openid.DefaultSession{})
			require.NoError(t, err)
			require.Equal(t, pending.StatePending, got.State)
			require.Equal(t, g.Request.GetID(), got.Request.GetID())
			require.Equal(t, f.client.GetID(), got.ClientID())
			return slow
		}
		require.False(t, poll(0), "the first poll is never early")
		require.False(t, poll(5*time.Second), "a poll exactly one interval later is on time")
		require.True(t, poll(7*time.Second), "2s after the last poll is early")
		last, interval := polledAt(t, f, g)
		require.True(t, t0.Add(7*time.Second).Equal(last))
		require.Equal(t, 10*time.Second, interval)
		require.True(t, poll(15*time.Second), "8s later is early for the raised 10s interval")
		require.False(t, poll(30*time.Second), "15s later is on time for 15s")
	})

	t.Run("grants that are not polled are returned unchanged", func(t *testing.T) {
		f, s := setup(t)
		cases := []struct {
			name     string
			mutate   func(*pending.Grant)
			clientID string
			at       time.Duration
			state    pending.State
		}{
			{name: "approved", mutate: func(g *pending.Grant) { g.State = pending.StateApproved }, clientID: f.client.GetID(), state: pending.StateApproved},
			{name: "denied", mutate: func(g *pending.Grant) { g.State = pending.StateDenied }, clientID: f.client.GetID(), state: pending.StateDenied},
			{name: "consumed", mutate: func(g *pending.Grant) { g.State = pending.StateConsumed }, clientID: f.client.GetID(), state: pending.StateConsumed},
			{name: "expired", clientID: f.client.GetID(), at: 10 * time.Minute, state: pending.StatePending},
			{name: "another client's", clientID: "someone-else", state: pending.StatePending},
		}
		for _, tc := range cases {
			g := f.grant(t, tc.mutate)
			got, slow, err := s.PollPendingGrant(ctx, g.Kind, g.HandleSignature, tc.clientID, t0.Add(tc.at), step, nil)
			require.NoError(t, err, tc.name)
			require.False(t, slow, tc.name)
			require.Equal(t, tc.state, got.State, tc.name)
			require.Equal(t, f.client.GetID(), got.ClientID(), tc.name)
			last, interval := polledAt(t, f, g)
			require.True(t, last.IsZero(), "%s: no poll recorded", tc.name)
			require.Equal(t, g.Interval, interval, tc.name)
		}
	})

	t.Run("a grant approved after an early poll is not slowed down", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		for _, at := range []time.Duration{0, time.Second} {
			_, _, err := s.PollPendingGrant(ctx, g.Kind, g.HandleSignature, f.client.GetID(), t0.Add(at), step, nil)
			require.NoError(t, err)
		}
		last, interval := polledAt(t, f, g)
		require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0.Add(time.Second)))
		got, slow, err := s.PollPendingGrant(ctx, g.Kind, g.HandleSignature, f.client.GetID(), t0.Add(2*time.Second), step, &openid.DefaultSession{})
		require.NoError(t, err)
		require.False(t, slow, "the last poll's slow_down is not this one's: an approved grant is redeemed")
		require.Equal(t, pending.StateApproved, got.State)
		require.Equal(t, "alice", got.Subject)
		gotLast, gotInterval := polledAt(t, f, g)
		require.True(t, last.Equal(gotLast), "no poll recorded")
		require.Equal(t, interval, gotInterval)
	})

	t.Run("an unknown handle is not found", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		_, _, err := s.PollPendingGrant(ctx, g.Kind, "nope", f.client.GetID(), t0, step, nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
		_, _, err = s.PollPendingGrant(ctx, pending.KindCIBA, g.HandleSignature, f.client.GetID(), t0, step, nil)
		require.ErrorIs(t, err, pending.ErrNotFound, "the same handle of another kind")
	})

	t.Run("16 concurrent polls at one instant: exactly one is on time", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			onTime  int
			failure error
			start   = make(chan struct{})
		)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, slow, err := s.PollPendingGrant(ctx, g.Kind, g.HandleSignature, f.client.GetID(), t0, step, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failure = err
				} else if !slow {
					onTime++
				}
			}()
		}
		close(start)
		wg.Wait()
		require.NoError(t, failure)
		require.Equal(t, 1, onTime)
		_, interval := polledAt(t, f, g)
		require.Equal(t, g.Interval+15*step, interval, "each of the 15 early polls raised the interval once")
	})
}
