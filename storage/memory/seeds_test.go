package memory_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestCIBADeviceStorageConformance(t *testing.T) {
	t.Run("MemoryStore", func(t *testing.T) {
		storagetest.RunCIBADeviceStorageTests(t, func(*testing.T) ciba.DeviceStorage { return memory.New() })
	})
	t.Run("CIBADeviceStore", func(t *testing.T) {
		storagetest.RunCIBADeviceStorageTests(t, func(*testing.T) ciba.DeviceStorage { return &memory.CIBADeviceStore{} })
	})
}

func TestCIBASMSStorageConformance(t *testing.T) {
	t.Run("MemoryStore", func(t *testing.T) {
		storagetest.RunCIBASMSStorageTests(t, func(*testing.T) smschannel.Store { return memory.New() })
	})
	t.Run("CIBASMSStore", func(t *testing.T) {
		storagetest.RunCIBASMSStorageTests(t, func(*testing.T) smschannel.Store { return &memory.CIBASMSStore{} })
	})
}

func TestReciprocalLinkStorageConformance(t *testing.T) {
	storagetest.RunReciprocalLinkStorageTests(t, func(t *testing.T, c fosite.Client) reciprocal.LinkStorage {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		return s
	})
}

func TestCIBAUserCodeStorageConformance(t *testing.T) {
	t.Run("MemoryStore", func(t *testing.T) {
		storagetest.RunCIBAUserCodeStorageTests(t, func(*testing.T) ciba.UserCodeStorage { return memory.New() })
	})
	t.Run("CIBAUserCodeStore", func(t *testing.T) {
		storagetest.RunCIBAUserCodeStorageTests(t, func(*testing.T) ciba.UserCodeStorage { return &memory.CIBAUserCodeStore{} })
	})
}
