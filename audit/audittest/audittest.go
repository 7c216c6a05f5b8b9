// Package audittest is the conformance suite for audit.Storage
// implementations. A store passes when
//
//	func TestAuditStorage(t *testing.T) {
//		audittest.RunStorageTests(t, func(t *testing.T) audit.Storage { return newEmptyStore(t) })
//	}
//
// passes under go test -race.
package audittest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
)

// RunStorageTests checks that the storages made by newStorage keep the
// audit.Storage contract: records come back in order and byte for byte, an
// append whose seq is not exactly last+1 fails with audit.ErrConflict and
// changes nothing, and concurrent writers through audit.Log produce one valid
// chain.
//
// newStorage must return an empty storage each time it is called; subtests
// run one after another, so a SQL store may reuse one database and empty it.
func RunStorageTests(t *testing.T, newStorage func(t *testing.T) audit.Storage) {
	t.Helper()
	ctx := context.Background()

	t.Run("empty log has no head and no records", func(t *testing.T) {
		s := newStorage(t)
		seq, token, err := s.LastAuditRecord(ctx)
		require.NoError(t, err)
		require.Zero(t, seq)
		require.Empty(t, token)
		recs, err := s.ListAuditRecords(ctx, 0, 10)
		require.NoError(t, err)
		require.Empty(t, recs)
	})

	t.Run("appended records list in order and page", func(t *testing.T) {
		s := newStorage(t)
		want := appendN(t, s, 5)

		seq, token, err := s.LastAuditRecord(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 5, seq)
		require.Equal(t, want[4].Token, token)

		for _, tc := range []struct {
			name         string
			after        int64
			limit        int
			wantFrom, to int // want[wantFrom:to]
		}{
			{name: "all", after: 0, limit: 10, wantFrom: 0, to: 5},
			{name: "exact limit", after: 0, limit: 5, wantFrom: 0, to: 5},
			{name: "first page", after: 0, limit: 2, wantFrom: 0, to: 2},
			{name: "middle page", after: 2, limit: 2, wantFrom: 2, to: 4},
			{name: "last partial page", after: 4, limit: 2, wantFrom: 4, to: 5},
			{name: "after the end", after: 5, limit: 2, wantFrom: 5, to: 5},
		} {
			t.Run(tc.name, func(t *testing.T) {
				recs, err := s.ListAuditRecords(ctx, tc.after, tc.limit)
				require.NoError(t, err)
				require.Equal(t, want[tc.wantFrom:tc.to], nonNil(recs))
			})
		}
	})

	t.Run("tokens are stored byte for byte", func(t *testing.T) {
		s := newStorage(t)
		// A SET with a large Data claim; storage must not truncate or trim.
		long := strings.Repeat("eyJhbGciOiJFUzI1NiJ9-_", 800) + "." + strings.Repeat("A", 4000) + ".sig-_"
		require.NoError(t, s.AppendAuditRecords(ctx, []audit.Record{{Seq: 1, Token: long}}))
		recs, err := s.ListAuditRecords(ctx, 0, 1)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, long, recs[0].Token)
	})

	for _, tc := range []struct {
		name   string
		stored int
		seq    int64
		anyErr bool // true: any error will do, not necessarily ErrConflict
	}{
		{name: "duplicate seq conflicts", stored: 2, seq: 2},
		{name: "older seq conflicts", stored: 3, seq: 1},
		{name: "gap conflicts", stored: 1, seq: 3},
		{name: "first record must be seq 1", stored: 0, seq: 2},
		{name: "seq 0 is rejected", stored: 1, seq: 0, anyErr: true},
		{name: "negative seq is rejected", stored: 0, seq: -1, anyErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStorage(t)
			want := appendN(t, s, tc.stored)
			err := s.AppendAuditRecords(ctx, []audit.Record{{Seq: tc.seq, Token: "intruder"}})
			if tc.anyErr {
				require.Error(t, err)
			} else {
				require.ErrorIs(t, err, audit.ErrConflict)
			}
			recs, err := s.ListAuditRecords(ctx, 0, 100)
			require.NoError(t, err)
			require.Equal(t, want, nonNil(recs), "a refused append must change nothing")
		})
	}

	t.Run("a batch is appended whole, in order", func(t *testing.T) {
		s := newStorage(t)
		want := appendN(t, s, 2)
		batch := []audit.Record{{Seq: 3, Token: "{\"seq\":3}"}, {Seq: 4, Token: "{\"seq\":4}"}, {Seq: 5, Token: "h.p5.s"}}
		require.NoError(t, s.AppendAuditRecords(ctx, batch))
		recs, err := s.ListAuditRecords(ctx, 0, 100)
		require.NoError(t, err)
		require.Equal(t, append(want, batch...), recs)
		seq, token, err := s.LastAuditRecord(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 5, seq)
		require.Equal(t, "h.p5.s", token)
	})

	for _, tc := range []struct {
		name     string
		batch    []audit.Record
		conflict bool
	}{
		{name: "a batch starting on a taken seq stores none of it", batch: []audit.Record{{Seq: 2, Token: "a"}, {Seq: 3, Token: "b"}}, conflict: true},
		{name: "a batch leaving a gap stores none of it", batch: []audit.Record{{Seq: 4, Token: "a"}, {Seq: 5, Token: "b"}}, conflict: true},
		{name: "a batch with a gap inside is rejected", batch: []audit.Record{{Seq: 3, Token: "a"}, {Seq: 5, Token: "b"}}},
		{name: "a batch out of order is rejected", batch: []audit.Record{{Seq: 4, Token: "a"}, {Seq: 3, Token: "b"}}},
		{name: "an empty batch is rejected", batch: []audit.Record{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStorage(t)
			want := appendN(t, s, 2)
			err := s.AppendAuditRecords(ctx, tc.batch)
			if tc.conflict {
				require.ErrorIs(t, err, audit.ErrConflict)
			} else {
				require.Error(t, err)
			}
			recs, err := s.ListAuditRecords(ctx, 0, 100)
			require.NoError(t, err)
			require.Equal(t, want, nonNil(recs), "a refused batch must change nothing")
		})
	}

	t.Run("concurrent batches from one seq: exactly one lands, whole", func(t *testing.T) {
		s := newStorage(t)
		batch := func(i int) []audit.Record {
			return []audit.Record{{Seq: 1, Token: fmt.Sprintf("w%d-1", i)}, {Seq: 2, Token: fmt.Sprintf("w%d-2", i)}, {Seq: 3, Token: fmt.Sprintf("w%d-3", i)}}
		}
		winner := raceAppends(t, s, 16, batch)
		recs, err := s.ListAuditRecords(ctx, 0, 100)
		require.NoError(t, err)
		require.Equal(t, batch(winner), recs)
	})

	t.Run("concurrent appends of one seq: exactly one wins", func(t *testing.T) {
		s := newStorage(t)
		winner := raceAppends(t, s, 32, func(i int) []audit.Record { return []audit.Record{{Seq: 1, Token: fmt.Sprintf("writer-%d", i)}} })
		recs, err := s.ListAuditRecords(ctx, 0, 100)
		require.NoError(t, err)
		require.Equal(t, []audit.Record{{Seq: 1, Token: fmt.Sprintf("writer-%d", winner)}}, recs)
	})

	for _, tc := range []struct {
		name      string
		sharedLog bool
	}{
		// One Log serializes its own writers.
		{name: "32 concurrent records through one Log form a valid chain", sharedLog: true},
		// One Log per writer acts like 32 server instances: they race in
		// the storage and must retry on ErrConflict.
		{name: "32 concurrent records through 32 Logs form a valid chain", sharedLog: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStorage(t)
			key, keys := newKey(t)
			newLog := func() *audit.Log {
				l, err := audit.NewLog(s, key, audit.Options{Issuer: "https://as.example.com"})
				require.NoError(t, err)
				return l
			}
			shared := newLog()
			const n = 32
			logs := make([]*audit.Log, n)
			for i := range logs {
				logs[i] = shared
				if !tc.sharedLog {
					logs[i] = newLog()
				}
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = logs[i].Record(ctx, audit.Event{
						Type:      audit.EventApproved,
						Grant:     audit.GrantDeviceCode,
						Subject:   "user",
						RequestID: fmt.Sprintf("request-%d", i),
					})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "writer %d", i)
			}

			rep, err := audit.Verify(ctx, s, keys)
			require.NoError(t, err)
			require.EqualValues(t, n, rep.Records)
			require.EqualValues(t, n, rep.Head.Seq)

			seen := map[string]bool{}
			v := &audit.Verifier{Keys: keys, Visit: func(_ int64, e audit.Event) error {
				require.False(t, seen[e.RequestID], "event %s recorded twice", e.RequestID)
				seen[e.RequestID] = true
				return nil
			}}
			_, err = v.Verify(ctx, s)
			require.NoError(t, err)
			require.Len(t, seen, n, "every event must land exactly once")
		})
	}
}

// raceAppends has n writers append batchOf(writer) at once to an empty s and returns the one writer
// that succeeded; every other must have got audit.ErrConflict.
func raceAppends(t *testing.T, s audit.Storage, n int, batchOf func(writer int) []audit.Record) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AppendAuditRecords(context.Background(), batchOf(i))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two writers appended at seq 1")
			winner = i
			continue
		}
		require.ErrorIs(t, err, audit.ErrConflict)
	}
	require.NotEqual(t, -1, winner, "no writer appended")
	return winner
}

// appendN appends n placeholder records and returns them.
func appendN(t *testing.T, s audit.Storage, n int) []audit.Record {
	t.Helper()
	recs := []audit.Record{}
	for i := 1; i <= n; i++ {
		r := audit.Record{Seq: int64(i), Token: fmt.Sprintf("header.payload-%d.signature", i)}
		require.NoError(t, s.AppendAuditRecords(context.Background(), []audit.Record{r}))
		recs = append(recs, r)
	}
	return recs
}

func nonNil(recs []audit.Record) []audit.Record {
	if recs == nil {
		return []audit.Record{}
	}
	return recs
}

func newKey(t *testing.T) (jose.SigningKey, audit.KeyFunc) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk := jose.JSONWebKey{Key: priv, KeyID: "audittest", Algorithm: string(jose.ES256), Use: "sig"}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}
	return jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, audit.KeySet(set)
}
