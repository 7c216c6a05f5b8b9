package sqlstore_test

import (
	"testing"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestCIBAStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCIBAStorageTests(t, func(t *testing.T) ciba.RecordStorage {
			return open(t, b.fresh(t))
		})
	})
}
