package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// TestOutboxTwoInstancesDeliverOnce runs workers on two stores sharing one database, as two server
// instances would: every message is delivered exactly once.
func TestOutboxTwoInstancesDeliverOnce(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		one, two := open(t, dsn), open(t, dsn)
		sealer, err := outbox.NewSealer([]byte("a global secret of at least 32 bytes"))
		require.NoError(t, err)
		clock := func() time.Time { return t0 }
		q := &outbox.Queue{Storage: one, Sealer: sealer, Now: clock}
		const n = 24
		for i := 0; i < n; i++ {
			require.NoError(t, q.Enqueue(ctx, outbox.WebhookMessage(fmt.Sprintf("m%02d", i), outbox.KindCIBAPing, "https://client.example/cb", "tok", []byte(`{}`))))
		}
		var (
			mu        sync.Mutex
			delivered = map[string]int{}
		)
		d := outbox.DelivererFunc(func(_ context.Context, m outbox.Message) (outbox.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			delivered[m.ID]++
			return outbox.Result{StatusCode: 204}, nil
		})
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 8; i++ {
			store := one
			if i%2 == 1 {
				store = two
			}
			w := &outbox.Worker{Storage: store, Sealer: sealer, Deliverer: d, Concurrency: 2, BatchSize: 3, Now: clock}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := w.DrainOnce(ctx)
				assert.NoError(t, err)
			}()
		}
		close(start)
		wg.Wait()
		require.Len(t, delivered, n)
		for id, c := range delivered {
			require.Equal(t, 1, c, id)
		}
	})
}
