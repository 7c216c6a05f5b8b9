package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/storage/storagetest"
)

func TestReciprocalStorageConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storagetest.RunReciprocalStorageTests(t, func(t *testing.T, c fosite.Client) reciprocal.TokenStorage {
			s := open(t, b.fresh(t))
			require.NoError(t, s.SetClient(context.Background(), c))
			return s
		})
	})
}

func TestReciprocalTokensGoWithTheirClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b.fresh(t))
		c := &fosite.DefaultClient{ID: "partner"}
		require.NoError(t, s.SetClient(ctx, c))
		require.NoError(t, s.SetReciprocalToken(ctx, &reciprocal.StoredToken{ClientID: "partner", Subject: "alice", Sealed: []byte{1, 2}}))
		require.NoError(t, s.DeleteClient(ctx, "partner"))
		_, err := s.GetReciprocalToken(ctx, "partner", "alice")
		require.ErrorIs(t, err, fosite.ErrNotFound)
	})
}
