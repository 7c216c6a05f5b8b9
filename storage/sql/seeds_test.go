package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestCIBADeviceStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCIBADeviceStorageTests(t, func(t *testing.T) ciba.DeviceStorage { return open(t, b.fresh(t)) })
	})
}

func TestCIBASMSStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCIBASMSStorageTests(t, func(t *testing.T) smschannel.Store { return open(t, b.fresh(t)) })
	})
}

func TestReciprocalLinkStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunReciprocalLinkStorageTests(t, func(t *testing.T, c fosite.Client) reciprocal.LinkStorage {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}

func TestCIBAUserCodeStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunCIBAUserCodeStorageTests(t, func(t *testing.T) ciba.UserCodeStorage { return open(t, b.fresh(t)) })
	})
}
