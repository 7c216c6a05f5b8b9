package memory_test

import (
	"testing"

	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestOutboxStorageConformance(t *testing.T) {
	storagetest.RunOutboxStorageTests(t, func(t *testing.T) outbox.Storage { return memory.New() })
}
