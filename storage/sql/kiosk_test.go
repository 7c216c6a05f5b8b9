package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestKioskStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunKioskStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.KioskStore {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}

func TestCallbackStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCallbackStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.CallbackStore {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}
