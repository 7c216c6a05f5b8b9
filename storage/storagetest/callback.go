package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// CallbackStore is what RunCallbackStorageTests exercises: the pending store plus the lookups by
// request and user (pending.IndexStorage) and the callbacks grants owe (pending.CallbackStorage), as
// the CIBA grant uses them.
type CallbackStore interface {
	Store
	pending.IndexStorage
	pending.CallbackStorage
}

// CallbackFactory returns a fresh, empty store in which client exists.
type CallbackFactory func(t *testing.T, client fosite.Client) CallbackStore

// RunCallbackStorageTests is the conformance suite of a grant's callback and of the lookups a CIBA
// request needs: round trip of the callback (sealed values byte for byte) and of the new OTP fields,
// lookup by request ID in one read, listing pending grants by subject (live and pending only, oldest
// first, the empty subject lists nothing), listing expired grants whose callback must report expiry
// (with a limit), marking a callback queued exactly once under 16 concurrent callers, and rollback when
// the store is storage.Transactional.
func RunCallbackStorageTests(t *testing.T, newStore CallbackFactory) {
	ctx := context.Background()
	setup := func(t *testing.T) (*fixture, CallbackStore) {
		t.Parallel()
		c := newClient()
		s := newStore(t, c)
		return &fixture{store: s, client: c}, s
	}
	ciba := func(subject string, mutate func(*pending.Grant)) func(*pending.Grant) {
		return func(g *pending.Grant) {
			g.Kind, g.Subject, g.UserCodeSignature, g.LoginHint = pending.KindCIBA, subject, "", ""
			if mutate != nil {
				mutate(g)
			}
		}
	}
	push := func(g *pending.Grant) {
		g.Callback = &pending.Callback{Endpoint: "https://client.example/cb", SealedToken: []byte{0, 1, 2, 255}, SealedHandle: []byte("sealed id"), OnExpiry: true}
	}
	sigs := func(gs []*pending.Grant) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.HandleSignature)
		}
		return out
	}

	t.Run("round trip", func(t *testing.T) {
		f, s := setup(t)
		in := f.grant(t, ciba("alice", func(g *pending.Grant) {
			push(g)
			g.CodeSentAt, g.ResendInterval = t0.Add(time.Second), 30*time.Second
		}))
		got, err := s.GetPendingGrant(ctx, pending.KindCIBA, in.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, in.Callback, got.Callback)
		require.Equal(t, "alice", got.Subject)
		require.True(t, in.CodeSentAt.Equal(got.CodeSentAt))
		require.Equal(t, in.ResendInterval, got.ResendInterval)

		poll := f.grant(t, ciba("alice", nil))
		got, err = s.GetPendingGrant(ctx, pending.KindCIBA, poll.HandleSignature, nil)
		require.NoError(t, err)
		require.Nil(t, got.Callback, "a grant that owes no callback has none")
		require.True(t, got.CodeSentAt.IsZero())
	})

	t.Run("by request ID", func(t *testing.T) {
		f, s := setup(t)
		in := f.grant(t, ciba("alice", push))
		got, err := s.GetPendingGrantByRequestID(ctx, pending.KindCIBA, in.Request.GetID())
		require.NoError(t, err)
		require.Equal(t, in.HandleSignature, got.HandleSignature)
		require.Equal(t, in.Callback, got.Callback)
		_, err = s.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, in.Request.GetID())
		require.ErrorIs(t, err, pending.ErrNotFound, "another kind's request ID is not found")
		_, err = s.GetPendingGrantByRequestID(ctx, pending.KindCIBA, "nope")
		require.ErrorIs(t, err, pending.ErrNotFound)
	})

	t.Run("list by subject", func(t *testing.T) {
		f, s := setup(t)
		later := f.grant(t, ciba("alice", func(g *pending.Grant) { g.CreatedAt = t0.Add(time.Second) }))
		earlier := f.grant(t, ciba("alice", nil))
		f.grant(t, ciba("bob", nil))
		f.grant(t, ciba("alice", func(g *pending.Grant) { g.ExpiresAt = t0.Add(time.Minute) }))
		f.grant(t, ciba("", nil))
		f.grant(t, func(g *pending.Grant) { g.Subject = "alice" }) // another kind
		decided := f.grant(t, ciba("alice", nil))
		require.NoError(t, s.DecidePendingGrant(ctx, pending.KindCIBA, decided.HandleSignature, pending.Decision{Subject: "alice"}, t0))

		got, err := s.ListPendingGrantsBySubject(ctx, pending.KindCIBA, "alice", t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{earlier.HandleSignature, later.HandleSignature}, sigs(got), "live, pending CIBA grants of alice, oldest first")
		got, err = s.ListPendingGrantsBySubject(ctx, pending.KindCIBA, "", t0)
		require.NoError(t, err)
		require.Empty(t, got, "the empty subject lists nothing")
		got, err = s.ListPendingGrantsBySubject(ctx, pending.KindCIBA, "carol", t0)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("list expired callbacks", func(t *testing.T) {
		f, s := setup(t)
		p1 := f.grant(t, ciba("alice", push))
		p2 := f.grant(t, ciba("alice", func(g *pending.Grant) { push(g); g.ExpiresAt = g.ExpiresAt.Add(time.Second) }))
		f.grant(t, ciba("alice", func(g *pending.Grant) { push(g); g.ExpiresAt = t0.Add(time.Hour) }))
		f.grant(t, ciba("alice", func(g *pending.Grant) { push(g); g.Callback.Notified = true }))
		f.grant(t, ciba("alice", nil))
		f.grant(t, ciba("alice", func(g *pending.Grant) { push(g); g.Callback.OnExpiry = false })) // ping

		at := t0.Add(10*time.Minute + time.Second) // exactly at p2's expiry: expired
		got, err := s.ListUnnotifiedExpired(ctx, pending.KindCIBA, at, 10)
		require.NoError(t, err)
		require.Equal(t, []string{p1.HandleSignature, p2.HandleSignature}, sigs(got))
		got, err = s.ListUnnotifiedExpired(ctx, pending.KindCIBA, at, 1)
		require.NoError(t, err)
		require.Equal(t, []string{p1.HandleSignature}, sigs(got))
		require.NoError(t, s.MarkCallbackQueued(ctx, pending.KindCIBA, p1.HandleSignature))
		got, err = s.ListUnnotifiedExpired(ctx, pending.KindCIBA, at, 10)
		require.NoError(t, err)
		require.Equal(t, []string{p2.HandleSignature}, sigs(got))
	})

	t.Run("marked once under concurrency", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, ciba("alice", push))
		require.ErrorIs(t, s.MarkCallbackQueued(ctx, pending.KindCIBA, "nope"), pending.ErrNotFound)
		poll := f.grant(t, ciba("alice", nil))
		require.ErrorIs(t, s.MarkCallbackQueued(ctx, pending.KindCIBA, poll.HandleSignature), pending.ErrStateChanged,
			"a grant without a callback has none to mark")
		var wins, changed atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.MarkCallbackQueued(ctx, pending.KindCIBA, g.HandleSignature)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, pending.ErrStateChanged):
					changed.Add(1)
				default:
					panic(fmt.Sprintf("unexpected error: %v", err))
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load())
		require.EqualValues(t, 15, changed.Load())
		got, err := s.GetPendingGrant(ctx, pending.KindCIBA, g.HandleSignature, nil)
		require.NoError(t, err)
		require.True(t, got.Callback.Notified)
	})

	t.Run("rollback", func(t *testing.T) {
		f, s := setup(t)
		tx, ok := s.(storage.Transactional)
		if !ok {
			t.Skip("the store is not transactional")
		}
		kept := f.grant(t, ciba("alice", push))
		txCtx, err := tx.BeginTX(ctx)
		require.NoError(t, err)
		require.NoError(t, s.MarkCallbackQueued(txCtx, pending.KindCIBA, kept.HandleSignature))
		require.NoError(t, tx.Rollback(txCtx))
		got, err := s.GetPendingGrant(ctx, pending.KindCIBA, kept.HandleSignature, nil)
		require.NoError(t, err)
		require.False(t, got.Callback.Notified)
	})
}
