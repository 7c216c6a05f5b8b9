package memory_test

import (
	"testing"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestCIBAConformance(t *testing.T) {
	storagetest.RunCIBAStorageTests(t, func(t *testing.T) ciba.RecordStorage { return memory.New() })
}
