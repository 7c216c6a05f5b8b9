package memory_test

import (
	"testing"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel/linkstoretest"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestCIBALinkStoreConformance(t *testing.T) {
	linkstoretest.Run(t, func(*testing.T) linkchannel.Store { return &memory.CIBALinkStore{} })
}
