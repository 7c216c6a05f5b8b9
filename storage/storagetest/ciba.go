package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
)

// CIBAFactory returns a fresh, empty store of CIBA records. It is called once per test.
type CIBAFactory func(t *testing.T) ciba.RecordStorage

// RunCIBAStorageTests is the conformance suite of ciba.RecordStorage: round trip of every field
// (sealed values byte for byte), reference collisions, unknown references, listing by subject (live
// only, oldest first), listing expired unnotified push records (with a limit), marking notified exactly
// once under 16 concurrent callers, and transaction rollback when the store is storage.Transactional.
func RunCIBAStorageTests(t *testing.T, factory CIBAFactory) {
	ctx := context.Background()
	setup := func(t *testing.T) ciba.RecordStorage {
		t.Parallel()
		return factory(t)
	}
	record := func(ref string, mutate func(*ciba.Record)) *ciba.Record {
		r := &ciba.Record{
			Ref: ref, HandleSignature: "sig-" + ref, Subject: "alice", ClientID: "client", Mode: ciba.ModePoll,
			CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
		}
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	refs := func(rs []*ciba.Record) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Ref)
		}
		return out
	}

	t.Run("round trip", func(t *testing.T) {
		s := setup(t)
		in := record("r1", func(r *ciba.Record) {
			r.Mode = ciba.ModePush
			r.NotificationEndpoint = "https://client.example/cb"
			r.SealedToken = []byte{0, 1, 2, 255}
			r.SealedAuthReqID = []byte("sealed id")
		})
		require.NoError(t, s.CreateCIBARecord(ctx, in))
		got, err := s.GetCIBARecord(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, in, got)

		plain := record("r2", func(r *ciba.Record) { r.Subject = "" })
		require.NoError(t, s.CreateCIBARecord(ctx, plain))
		got, err = s.GetCIBARecord(ctx, "r2")
		require.NoError(t, err)
		require.Equal(t, plain, got)
	})

	t.Run("collision", func(t *testing.T) {
		s := setup(t)
		require.NoError(t, s.CreateCIBARecord(ctx, record("r1", nil)))
		err := s.CreateCIBARecord(ctx, record("r1", func(r *ciba.Record) { r.Subject = "mallory" }))
		require.ErrorIs(t, err, pending.ErrCollision)
		got, err := s.GetCIBARecord(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, "alice", got.Subject, "a collision changes nothing")
	})

	t.Run("unknown", func(t *testing.T) {
		s := setup(t)
		_, err := s.GetCIBARecord(ctx, "nope")
		require.ErrorIs(t, err, pending.ErrNotFound)
		require.ErrorIs(t, s.MarkCIBARecordNotified(ctx, "nope"), pending.ErrNotFound)
	})

	t.Run("list by subject", func(t *testing.T) {
		s := setup(t)
		require.NoError(t, s.CreateCIBARecord(ctx, record("b-later", func(r *ciba.Record) { r.CreatedAt = t0.Add(time.Second) })))
		require.NoError(t, s.CreateCIBARecord(ctx, record("a-earlier", nil)))
		require.NoError(t, s.CreateCIBARecord(ctx, record("bob", func(r *ciba.Record) { r.Subject = "bob" })))
		require.NoError(t, s.CreateCIBARecord(ctx, record("expired", func(r *ciba.Record) { r.ExpiresAt = t0.Add(time.Minute) })))
		require.NoError(t, s.CreateCIBARecord(ctx, record("fallback", func(r *ciba.Record) { r.Subject = "" })))

		got, err := s.ListCIBARecordsBySubject(ctx, "alice", t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{"a-earlier", "b-later"}, refs(got), "live records of alice, oldest first")
		got, err = s.ListCIBARecordsBySubject(ctx, "", t0)
		require.NoError(t, err)
		require.Empty(t, got, "the empty subject lists nothing")
		got, err = s.ListCIBARecordsBySubject(ctx, "carol", t0)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("list expired push", func(t *testing.T) {
		s := setup(t)
		push := func(r *ciba.Record) { r.Mode = ciba.ModePush }
		require.NoError(t, s.CreateCIBARecord(ctx, record("p1", push)))
		require.NoError(t, s.CreateCIBARecord(ctx, record("p2", func(r *ciba.Record) { push(r); r.CreatedAt = t0.Add(time.Second) })))
		require.NoError(t, s.CreateCIBARecord(ctx, record("p-live", func(r *ciba.Record) { push(r); r.ExpiresAt = t0.Add(time.Hour) })))
		require.NoError(t, s.CreateCIBARecord(ctx, record("p-done", func(r *ciba.Record) { push(r); r.Notified = true })))
		require.NoError(t, s.CreateCIBARecord(ctx, record("poll", nil)))
		require.NoError(t, s.CreateCIBARecord(ctx, record("ping", func(r *ciba.Record) { r.Mode = ciba.ModePing })))

		at := t0.Add(10 * time.Minute) // exactly at expiry: expired
		got, err := s.ListExpiredCIBARecords(ctx, at, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"p1", "p2"}, refs(got))
		got, err = s.ListExpiredCIBARecords(ctx, at, 1)
		require.NoError(t, err)
		require.Equal(t, []string{"p1"}, refs(got))
		require.NoError(t, s.MarkCIBARecordNotified(ctx, "p1"))
		got, err = s.ListExpiredCIBARecords(ctx, at, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"p2"}, refs(got))
	})

	t.Run("notified once under concurrency", func(t *testing.T) {
		s := setup(t)
		require.NoError(t, s.CreateCIBARecord(ctx, record("r1", nil)))
		var wins, changed atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.MarkCIBARecordNotified(ctx, "r1")
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
		got, err := s.GetCIBARecord(ctx, "r1")
		require.NoError(t, err)
		require.True(t, got.Notified)
	})

	t.Run("rollback", func(t *testing.T) {
		s := setup(t)
		tx, ok := s.(storage.Transactional)
		if !ok {
			t.Skip("the store is not transactional")
		}
		require.NoError(t, s.CreateCIBARecord(ctx, record("kept", nil)))
		txCtx, err := tx.BeginTX(ctx)
		require.NoError(t, err)
		require.NoError(t, s.CreateCIBARecord(txCtx, record("rolled-back", nil)))
		require.NoError(t, s.MarkCIBARecordNotified(txCtx, "kept"))
		require.NoError(t, tx.Rollback(txCtx))
		_, err = s.GetCIBARecord(ctx, "rolled-back")
		require.ErrorIs(t, err, pending.ErrNotFound)
		got, err := s.GetCIBARecord(ctx, "kept")
		require.NoError(t, err)
		require.False(t, got.Notified)
	})
}
