package sqlstore_test

import (
	"testing"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel/linkstoretest"
)

func TestCIBALinkStoreConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		linkstoretest.Run(t, func(t *testing.T) linkchannel.Store { return open(t, b.fresh(t)) })
	})
}
