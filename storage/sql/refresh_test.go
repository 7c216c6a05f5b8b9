package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/storage/storagetest"
)

// TestRefreshStorageConformance runs the refresh rotation suite with n Stores on one database, as n
// server instances open it.
func TestRefreshStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunRefreshStorageTests(t, func(t *testing.T, c fosite.Client, n int) []storagetest.RefreshStore {
			dsn := b.fresh(t)
			out := make([]storagetest.RefreshStore, n)
			for i := range out {
				s := open(t, dsn)
				if i == 0 {
					require.NoError(t, s.SetClient(context.Background(), c))
				}
				out[i] = s
			}
			return out
		})
	})
}
