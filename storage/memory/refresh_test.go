package memory_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestRefreshConformance(t *testing.T) {
	storagetest.RunRefreshStorageTests(t, func(t *testing.T, c fosite.Client, n int) []storagetest.RefreshStore {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		out := make([]storagetest.RefreshStore, n)
		for i := range out {
			out[i] = s
		}
		return out
	})
}
