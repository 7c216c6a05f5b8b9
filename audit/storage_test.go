package audit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/audit/audittest"
)

func TestMemoryStorage(t *testing.T) {
	t.Parallel()
	audittest.RunStorageTests(t, func(t *testing.T) audit.Storage { return audit.NewMemoryStorage() })
}

func TestMemoryStorageZeroValue(t *testing.T) {
	t.Parallel()
	audittest.RunStorageTests(t, func(t *testing.T) audit.Storage { return new(audit.MemoryStorage) })
}

func TestMemoryStorageRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := audit.NewMemoryStorage()
	_, err := s.ListAuditRecords(context.Background(), 0, 0)
	require.Error(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.AppendAuditRecords(ctx, []audit.Record{{Seq: 1, Token: "t"}}), context.Canceled)
	_, _, err = s.LastAuditRecord(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.ListAuditRecords(ctx, 0, 1)
	require.ErrorIs(t, err, context.Canceled)
}
