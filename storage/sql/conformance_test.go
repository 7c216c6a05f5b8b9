package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/audit/audittest"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestPendingStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunPendingStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.Store {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}

func TestPollStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunPollStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.PollStore {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}

func TestAuditStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		audittest.RunStorageTests(t, func(t *testing.T) audit.Storage {
			return open(t, b.fresh(t))
		})
	})
}
