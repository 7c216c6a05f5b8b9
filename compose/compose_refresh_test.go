package compose_test

import (
	"testing"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/refresh"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestRefreshTokenGrantFactory(t *testing.T) {
	cfg := &fosite.Config{GlobalSecret: []byte("some-secret-that-is-32-bytes-long")}
	strategy := fcompose.NewOAuth2HMACStrategy(cfg)

	h, ok := compose.RefreshTokenGrantFactory(cfg, memory.New(), strategy).(*refresh.Handler)
	require.True(t, ok)
	require.NotNil(t, h.Grant)

	p := compose.Compose(cfg, memory.New(), strategy, compose.RefreshTokenGrantFactory)
	require.Contains(t, p.GrantTypesSupported(), "refresh_token", "discovery still lists the grant")

	require.PanicsWithValue(t, "compose: RefreshTokenGrantFactory needs a storage implementing oauth2.TokenRevocationStorage, got string",
		func() { compose.RefreshTokenGrantFactory(cfg, "not a store", strategy) })
	require.PanicsWithValue(t, "compose: RefreshTokenGrantFactory needs a strategy implementing oauth2.AccessTokenStrategy, got int",
		func() { compose.RefreshTokenGrantFactory(cfg, memory.New(), 42) })
}
