package sqlstore

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// TestRelaxedCommitStaysInItsStatement: on PostgreSQL the poll's bookkeeping and the attempt counters
// are committed asynchronously, each in its own statement's transaction: the connection they ran on
// keeps the server's synchronous_commit for whatever runs on it next (a token, a decision), and inside
// a caller's transaction nothing is relaxed.
func TestRelaxedCommitStaysInItsStatement(t *testing.T) {
	base := os.Getenv("GRANTS_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("GRANTS_TEST_POSTGRES_DSN is not set")
	}
	ctx := context.Background()
	s, err := Open(ctx, migrationSchema(t, base))
	require.NoError(t, err)
	defer s.Close()
	s.db.SetMaxOpenConns(1) // every statement below runs on the same connection
	setting := func() string {
		var v string
		require.NoError(t, s.db.QueryRowContext(ctx, "SELECT current_setting('synchronous_commit')").Scan(&v))
		return v
	}
	// The connection commits synchronously, whatever the server's default (CI's throw-away cluster
	// runs with synchronous_commit off).
	_, err = s.db.ExecContext(ctx, "SET synchronous_commit = on")
	require.NoError(t, err)
	before := setting()
	require.Equal(t, "on", before)

	now := time.Unix(1_800_000_000, 0)
	n, err := s.IncrementAttempts(ctx, "relaxed", now, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.IncrementAttempts(ctx, "relaxed", now, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the relaxed upsert counts as the other one does")
	require.Equal(t, before, setting(), "the attempt counter's setting ended with its statement")

	_, _, err = s.PollPendingGrant(ctx, pending.KindDeviceCode, "unknown", "client", now, time.Second, nil)
	require.ErrorIs(t, err, pending.ErrNotFound)
	require.Equal(t, before, setting(), "the poll's setting ended with its statement")

	// Inside a caller's transaction the strict statements run: the caller's commit is not relaxed.
	txCtx, err := s.BeginTX(ctx)
	require.NoError(t, err)
	_, err = s.IncrementAttempts(txCtx, "in-tx", now, time.Minute)
	require.NoError(t, err)
	var inTx string
	require.NoError(t, s.queryRow(txCtx, "SELECT current_setting('synchronous_commit')").Scan(&inTx))
	require.Equal(t, before, inTx, "a counter inside a caller's transaction leaves its commit synchronous")
	require.NoError(t, s.Commit(txCtx))
}
