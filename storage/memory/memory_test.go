package memory_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.RunPendingStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.Store {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		return s
	})
}

func TestCounterConformance(t *testing.T) {
	storagetest.RunCounterTests(t, func(t *testing.T, c fosite.Client) storagetest.CounterStore {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		return s
	})
}
