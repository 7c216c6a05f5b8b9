package sqlstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestOutboxStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunOutboxStorageTests(t, func(t *testing.T) outbox.Storage {
			return open(t, b.fresh(t))
		})
	})
}

// TestOutboxRowIsSealed reads the raw row: no column holds the Bearer token or the body.
func TestOutboxRowIsSealed(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.fresh(t))
		sealer, err := outbox.NewSealer([]byte("a global secret of at least 32 bytes"))
		require.NoError(t, err)
		q := &outbox.Queue{Storage: s, Sealer: sealer, Now: func() time.Time { return t0 }}
		require.NoError(t, q.Enqueue(ctx, outbox.WebhookMessage("ciba.ping:req-1", outbox.KindCIBAPing,
			"https://client.example/cb", "s3cr3t-notification-token", []byte(`{"auth_req_id":"very-secret-req-id"}`))))

		rows, err := s.DB().QueryContext(ctx, "SELECT * FROM outbox_messages")
		require.NoError(t, err)
		defer func() { _ = rows.Close() }()
		cols, err := rows.Columns()
		require.NoError(t, err)
		require.True(t, rows.Next())
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		var raw []byte
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				raw = append(raw, v...)
			case string:
				raw = append(raw, v...)
			}
		}
		require.NotEmpty(t, raw)
		require.Contains(t, string(raw), "ciba.ping:req-1")
		for _, secret := range []string{"s3cr3t-notification-token", "very-secret-req-id", "Bearer", "auth_req_id"} {
			require.False(t, bytes.Contains(raw, []byte(secret)), "the row contains %q", secret)
		}
	})
}
