package memory_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestKioskConformance(t *testing.T) {
	storagetest.RunKioskStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.KioskStore {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		return s
	})
}

func TestCallbackConformance(t *testing.T) {
	storagetest.RunCallbackStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.CallbackStore {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		return s
	})
}
