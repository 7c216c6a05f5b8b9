package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbox"
)

// OutboxFactory returns a fresh, empty outbox store. It is called once per test.
type OutboxFactory func(t *testing.T) outbox.Storage

// outboxSecret is the global secret the suite seals with (32 bytes).
var outboxSecret = []byte("storagetest outbox secret 32byte")

// RunOutboxStorageTests is the conformance suite of outbox.Storage: enqueue, claim and complete;
// duplicate IDs; due times; lease exclusivity, also under 16 concurrent claimers and workers (each
// message is delivered once); retry scheduling; final states; a dead worker's last attempt;
// transaction rollback (when the store is storage.Transactional); purge; and sealing (the stored
// record does not contain the plaintext header or body).
func RunOutboxStorageTests(t *testing.T, factory OutboxFactory) {
	ctx := context.Background()
	sealer, err := outbox.NewSealer(outboxSecret)
	require.NoError(t, err)

	type fixture struct {
		store outbox.Storage
		queue *outbox.Queue
	}
	setup := func(t *testing.T) fixture {
		t.Parallel()
		s := factory(t)
		return fixture{store: s, queue: &outbox.Queue{Storage: s, Sealer: sealer, Now: func() time.Time { return t0 }}}
	}
	msg := func(id string) outbox.Message {
		return outbox.WebhookMessage(id, outbox.KindCIBAPing, "https://client.example/cb", "notification-token-"+id,
			[]byte(`{"auth_req_id":"req-`+id+`"}`))
	}
	claim := func(t *testing.T, s outbox.Storage, at time.Time, limit int) []outbox.Record {
		t.Helper()
		recs, err := s.ClaimOutbox(ctx, at, limit, time.Minute)
		require.NoError(t, err)
		return recs
	}
	ids := func(recs []outbox.Record) []string {
		out := make([]string, 0, len(recs))
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}

	t.Run("enqueue, claim, deliver", func(t *testing.T) {
		f := setup(t)
		m := msg("a")
		m.MaxAttempts = 3
		require.NoError(t, f.queue.Enqueue(ctx, m))

		got, err := f.store.GetOutbox(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, outbox.StatePending, got.State)
		require.Equal(t, outbox.KindCIBAPing, got.Kind)
		require.Equal(t, "https://client.example/cb", got.Target)
		require.True(t, got.CreatedAt.Equal(t0))
		require.True(t, got.NextAttemptAt.Equal(t0))
		require.Equal(t, 3, got.MaxAttempts)
		require.Zero(t, got.Attempts)

		recs := claim(t, f.store, t0, 10)
		require.Len(t, recs, 1)
		r := recs[0]
		require.Equal(t, 1, r.Attempts)
		require.NotEmpty(t, r.Lease)
		require.True(t, r.LeaseUntil.Equal(t0.Add(time.Minute)))
		opened, err := sealer.Open(r)
		require.NoError(t, err)
		require.Equal(t, m.Header, opened.Header)
		require.Equal(t, m.Body, opened.Body)

		require.NoError(t, f.store.CompleteOutbox(ctx, "a", outbox.Attempt{
			Number: 1, Lease: r.Lease, StartedAt: t0, At: t0.Add(time.Second), Outcome: outbox.OutcomeDelivered, StatusCode: 204,
		}))
		got, err = f.store.GetOutbox(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, outbox.StateDelivered, got.State)
		require.Empty(t, got.Lease)
		require.True(t, got.FinishedAt.Equal(t0.Add(time.Second)))
		require.Empty(t, claim(t, f.store, t0.Add(time.Hour), 10), "a delivered message is never claimed again")

		attempts, err := f.store.ListOutboxAttempts(ctx, "a")
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, "a", attempts[0].MessageID)
		require.Equal(t, 1, attempts[0].Number)
		require.Equal(t, outbox.OutcomeDelivered, attempts[0].Outcome)
		require.Equal(t, 204, attempts[0].StatusCode)
		require.True(t, attempts[0].StartedAt.Equal(t0))
		require.True(t, attempts[0].At.Equal(t0.Add(time.Second)))

		require.ErrorIs(t, f.store.CompleteOutbox(ctx, "a", outbox.Attempt{Lease: r.Lease, At: t0, Outcome: outbox.OutcomeDelivered}),
			outbox.ErrLeaseLost, "a message completes once")
	})

	t.Run("a duplicate ID is refused and changes nothing", func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.queue.Enqueue(ctx, msg("dup")))
		other := msg("dup")
		other.Target = "https://other.example/cb"
		require.ErrorIs(t, f.queue.Enqueue(ctx, other), outbox.ErrDuplicate)
		got, err := f.store.GetOutbox(ctx, "dup")
		require.NoError(t, err)
		require.Equal(t, "https://client.example/cb", got.Target)
	})

	t.Run("unknown IDs", func(t *testing.T) {
		f := setup(t)
		_, err := f.store.GetOutbox(ctx, "nope")
		require.ErrorIs(t, err, outbox.ErrNotFound)
		require.ErrorIs(t, f.store.CompleteOutbox(ctx, "nope", outbox.Attempt{Lease: "x", At: t0, Outcome: outbox.OutcomeDelivered}), outbox.ErrNotFound)
		attempts, err := f.store.ListOutboxAttempts(ctx, "nope")
		require.NoError(t, err)
		require.Empty(t, attempts)
	})

	t.Run("messages are claimed when due, oldest first, up to the limit", func(t *testing.T) {
		f := setup(t)
		for i, delay := range []time.Duration{3 * time.Minute, 0, time.Minute, 2 * time.Minute} {
			m := msg(fmt.Sprintf("m%d", i))
			m.NotBefore = t0.Add(delay)
			require.NoError(t, f.queue.Enqueue(ctx, m))
		}
		// Claims for an hour, so that unfinished claims do not come back in this test.
		claimHour := func(at time.Time, limit int) []string {
			recs, err := f.store.ClaimOutbox(ctx, at, limit, time.Hour)
			require.NoError(t, err)
			return ids(recs)
		}
		require.Equal(t, []string{"m1"}, claimHour(t0.Add(30*time.Second), 10))
		require.Equal(t, []string{"m2"}, claimHour(t0.Add(2*time.Minute), 1))
		require.Equal(t, []string{"m3", "m0"}, claimHour(t0.Add(3*time.Minute), 10))
		require.Empty(t, claimHour(t0.Add(3*time.Minute), 10))
	})

	t.Run("a claimed message is invisible until its lease expires", func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.queue.Enqueue(ctx, msg("l")))
		first := claim(t, f.store, t0, 10)
		require.Len(t, first, 1)
		require.Empty(t, claim(t, f.store, t0.Add(59*time.Second), 10), "held by the first lease")

		// The first worker "crashed": after the lease expires another claims the message.
		second := claim(t, f.store, t0.Add(time.Minute), 10)
		require.Len(t, second, 1)
		require.Equal(t, 2, second[0].Attempts)
		require.NotEqual(t, first[0].Lease, second[0].Lease)

		require.ErrorIs(t, f.store.CompleteOutbox(ctx, "l", outbox.Attempt{Number: 1, Lease: first[0].Lease, At: t0, Outcome: outbox.OutcomeDelivered}),
			outbox.ErrLeaseLost, "the stale lease cannot complete the message")
		require.NoError(t, f.store.CompleteOutbox(ctx, "l", outbox.Attempt{Number: 2, Lease: second[0].Lease, At: t0.Add(time.Minute), Outcome: outbox.OutcomeDelivered}))
		attempts, err := f.store.ListOutboxAttempts(ctx, "l")
		require.NoError(t, err)
		require.Len(t, attempts, 1, "only the completed attempt is recorded")
		require.Equal(t, 2, attempts[0].Number)
	})

	t.Run("an expired lease that nobody took over still completes", func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.queue.Enqueue(ctx, msg("slow")))
		r := claim(t, f.store, t0, 10)[0]
		require.NoError(t, f.store.CompleteOutbox(ctx, "slow", outbox.Attempt{Number: 1, Lease: r.Lease, At: t0.Add(2 * time.Minute), Outcome: outbox.OutcomeDelivered}))
	})

	t.Run("16 concurrent claimers take each message once", func(t *testing.T) {
		f := setup(t)
		const n = 40
		for i := 0; i < n; i++ {
			require.NoError(t, f.queue.Enqueue(ctx, msg(fmt.Sprintf("c%02d", i))))
		}
		var (
			mu     sync.Mutex
			counts = map[string]int{}
			wg     sync.WaitGroup
			start  = make(chan struct{})
			errs   = make(chan error, 16)
		)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					recs, err := f.store.ClaimOutbox(ctx, t0, 3, time.Minute)
					if err != nil {
						errs <- err
						return
					}
					if len(recs) == 0 {
						return
					}
					for _, r := range recs {
						mu.Lock()
						counts[r.ID]++
						mu.Unlock()
						if err := f.store.CompleteOutbox(ctx, r.ID, outbox.Attempt{Number: r.Attempts, Lease: r.Lease, StartedAt: t0, At: t0, Outcome: outbox.OutcomeDelivered}); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, counts, n)
		for id, c := range counts {
			require.Equal(t, 1, c, "message %s claimed %d times", id, c)
		}
	})

	t.Run("16 concurrent workers deliver each message once", func(t *testing.T) {
		f := setup(t)
		const n = 30
		for i := 0; i < n; i++ {
			require.NoError(t, f.queue.Enqueue(ctx, msg(fmt.Sprintf("w%02d", i))))
		}
		var (
			mu        sync.Mutex
			delivered = map[string]int{}
		)
		d := outbox.DelivererFunc(func(_ context.Context, m outbox.Message) (outbox.Result, error) {
			assert.Equal(t, "Bearer notification-token-"+m.ID, m.Header["Authorization"])
			mu.Lock()
			delivered[m.ID]++
			mu.Unlock()
			return outbox.Result{StatusCode: 204}, nil
		})
		var wg sync.WaitGroup
		var total atomic.Int64
		start := make(chan struct{})
		for i := 0; i < 16; i++ {
			w := &outbox.Worker{Storage: f.store, Sealer: sealer, Deliverer: d, Concurrency: 2, BatchSize: 2, Now: func() time.Time { return t0 }}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				k, err := w.DrainOnce(ctx)
				assert.NoError(t, err)
				total.Add(int64(k))
			}()
		}
		close(start)
		wg.Wait()
		require.EqualValues(t, n, total.Load())
		require.Len(t, delivered, n)
		for id, c := range delivered {
			require.Equal(t, 1, c, "message %s delivered %d times", id, c)
			got, err := f.store.GetOutbox(ctx, id)
			require.NoError(t, err)
			require.Equal(t, outbox.StateDelivered, got.State)
		}
	})

	t.Run("a retry is due at the time it names", func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.queue.Enqueue(ctx, msg("r")))
		r := claim(t, f.store, t0, 10)[0]
		require.NoError(t, f.store.CompleteOutbox(ctx, "r", outbox.Attempt{
			Number: 1, Lease: r.Lease, StartedAt: t0, At: t0, Outcome: outbox.OutcomeRetry, StatusCode: 503, Error: "HTTP 503", NextAttemptAt: t0.Add(30 * time.Second),
		}))
		got, err := f.store.GetOutbox(ctx, "r")
		require.NoError(t, err)
		require.Equal(t, outbox.StatePending, got.State)
		require.Equal(t, "HTTP 503", got.LastError)
		require.True(t, got.NextAttemptAt.Equal(t0.Add(30*time.Second)))
		require.Empty(t, got.Lease)
		require.Empty(t, claim(t, f.store, t0.Add(29*time.Second), 10))
		again := claim(t, f.store, t0.Add(30*time.Second), 10)
		require.Len(t, again, 1)
		require.Equal(t, 2, again[0].Attempts)

		attempts, err := f.store.ListOutboxAttempts(ctx, "r")
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, outbox.OutcomeRetry, attempts[0].Outcome)
		require.Equal(t, 503, attempts[0].StatusCode)
		require.Equal(t, "HTTP 503", attempts[0].Error)
		require.True(t, attempts[0].NextAttemptAt.Equal(t0.Add(30*time.Second)))
	})

	t.Run("a failed message is final", func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.queue.Enqueue(ctx, msg("f")))
		r := claim(t, f.store, t0, 10)[0]
		require.NoError(t, f.store.CompleteOutbox(ctx, "f", outbox.Attempt{Number: 1, Lease: r.Lease, At: t0, Outcome: outbox.OutcomeFailed, StatusCode: 401, Error: "HTTP 401"}))
		got, err := f.store.GetOutbox(ctx, "f")
		require.NoError(t, err)
		require.Equal(t, outbox.StateFailed, got.State)
		require.Equal(t, "HTTP 401", got.LastError)
		require.Empty(t, claim(t, f.store, t0.Add(24*time.Hour), 10))
	})

	t.Run("a dead worker's last allowed attempt fails the message", func(t *testing.T) {
		f := setup(t)
		m := msg("last")
		m.MaxAttempts = 1
		require.NoError(t, f.queue.Enqueue(ctx, m))
		require.Len(t, claim(t, f.store, t0, 10), 1)
		require.Empty(t, claim(t, f.store, t0.Add(time.Minute), 10), "MaxAttempts reached: not claimed again")
		got, err := f.store.GetOutbox(ctx, "last")
		require.NoError(t, err)
		require.Equal(t, outbox.StateFailed, got.State)
		require.NotEmpty(t, got.LastError)
	})

	t.Run("a rolled-back enqueue leaves nothing", func(t *testing.T) {
		f := setup(t)
		tx, ok := f.store.(storage.Transactional)
		if !ok {
			t.Skip("store is not transactional")
		}
		txCtx, err := tx.BeginTX(ctx)
		require.NoError(t, err)
		require.NoError(t, f.queue.Enqueue(txCtx, msg("rolled")))
		require.NoError(t, tx.Rollback(txCtx))
		_, err = f.store.GetOutbox(ctx, "rolled")
		require.ErrorIs(t, err, outbox.ErrNotFound)
		require.Empty(t, claim(t, f.store, t0, 10))

		txCtx, err = tx.BeginTX(ctx)
		require.NoError(t, err)
		require.NoError(t, f.queue.Enqueue(txCtx, msg("committed")))
		require.ErrorIs(t, f.queue.Enqueue(txCtx, msg("committed")), outbox.ErrDuplicate)
		require.NoError(t, tx.Commit(txCtx), "a duplicate does not spoil the transaction")
		require.Equal(t, []string{"committed"}, ids(claim(t, f.store, t0, 10)))
	})

	t.Run("purge removes finished messages past retention only", func(t *testing.T) {
		f := setup(t)
		for _, id := range []string{"done", "failed", "pending", "recent"} {
			require.NoError(t, f.queue.Enqueue(ctx, msg(id)))
		}
		for _, r := range claim(t, f.store, t0, 10) {
			a := outbox.Attempt{Number: 1, Lease: r.Lease, StartedAt: t0, At: t0, Outcome: outbox.OutcomeDelivered}
			switch r.ID {
			case "failed":
				a.Outcome = outbox.OutcomeFailed
			case "pending":
				a.Outcome, a.NextAttemptAt = outbox.OutcomeRetry, t0.Add(time.Hour)
			case "recent":
				a.At = t0.Add(2 * time.Hour)
			}
			require.NoError(t, f.store.CompleteOutbox(ctx, r.ID, a))
		}
		n, err := f.store.PurgeOutbox(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for id, want := range map[string]error{"done": outbox.ErrNotFound, "failed": outbox.ErrNotFound, "pending": nil, "recent": nil} {
			_, err := f.store.GetOutbox(ctx, id)
			if want == nil {
				require.NoError(t, err, id)
			} else {
				require.ErrorIs(t, err, want, id)
			}
		}
		attempts, err := f.store.ListOutboxAttempts(ctx, "done")
		require.NoError(t, err)
		require.Empty(t, attempts)
	})

	t.Run("the store keeps the header and body sealed", func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.queue.Enqueue(ctx, msg("s")))
		got, err := f.store.GetOutbox(ctx, "s")
		require.NoError(t, err)
		require.False(t, bytes.Contains(got.Sealed, []byte("notification-token-s")))
		require.False(t, bytes.Contains(got.Sealed, []byte("auth_req_id")))
		opened, err := sealer.Open(got)
		require.NoError(t, err)
		require.Equal(t, "Bearer notification-token-s", opened.Header["Authorization"])

		// Someone who can write the database cannot move the sealed token to another target.
		got.Target = "https://attacker.example/cb"
		_, err = sealer.Open(got)
		require.ErrorIs(t, err, outbox.ErrUnseal)
	})
}
