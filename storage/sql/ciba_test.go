package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestCIBAStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCIBAStorageTests(t, func(t *testing.T) ciba.RecordStorage {
			return open(t, b.fresh(t))
		})
	})
}

func TestPurgeCIBARecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b.fresh(t))
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i, exp := range []time.Duration{time.Minute, time.Hour} {
			require.NoError(t, s.CreateCIBARecord(ctx, &ciba.Record{
				Ref: fmt.Sprintf("r%d", i), HandleSignature: fmt.Sprintf("s%d", i), ClientID: "c", Mode: ciba.ModePoll,
				CreatedAt: t0, ExpiresAt: t0.Add(exp),
			}))
		}
		n, err := s.PurgeCIBARecords(ctx, t0.Add(10*time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = s.GetCIBARecord(ctx, "r0")
		require.ErrorIs(t, err, pending.ErrNotFound)
		_, err = s.GetCIBARecord(ctx, "r1")
		require.NoError(t, err)
	})
}
