package memory_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/storage/memory"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestReciprocalConformance(t *testing.T) {
	storagetest.RunReciprocalStorageTests(t, func(t *testing.T, c fosite.Client) reciprocal.TokenStorage {
		s := memory.New()
		require.NoError(t, s.SetClient(context.Background(), c))
		return s
	})
}
