package compose_test

import (
	"context"
	"testing"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestReciprocalFactory(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	strategy := func(cfg *compose.Config) interface{} {
		return &fcompose.CommonStrategy{CoreStrategy: fcompose.NewOAuth2HMACStrategy(cfg.Config)}
	}

	t.Run("wires both parties and the grant type", func(t *testing.T) {
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
		p := compose.Compose(cfg, memory.New(), strategy(cfg), compose.ReciprocalFactory, compose.ReciprocalScopeFactory)
		require.NotNil(t, p.Reciprocal)
		require.NotNil(t, p.Reciprocal.Grant)
		require.NotNil(t, p.Reciprocal.Tokens)
		require.NotNil(t, p.Reciprocal.Issuer)
		require.Contains(t, p.GrantTypesSupported(), string(reciprocal.GrantType))
	})

	t.Run("defaults", func(t *testing.T) {
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
		require.Equal(t, reciprocal.DefaultCodeLifespan, cfg.GetReciprocalCodeLifespan(context.Background()))
		require.Equal(t, reciprocal.DefaultOutboundTimeout, cfg.GetReciprocalOutboundTimeout(context.Background()))
		require.False(t, cfg.GetReciprocalAllowLoopbackHTTP(context.Background()))
		require.False(t, cfg.GetReciprocalScopeInAuthorizationResponse(context.Background()))
	})

	t.Run("a store without reciprocal.TokenStorage is refused by name", func(t *testing.T) {
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: secret}}
		require.PanicsWithValue(t, "compose: ReciprocalFactory needs a value implementing reciprocal.TokenStorage, got *storage.MemoryStore", func() {
			compose.ReciprocalFactory(cfg, storage.NewMemoryStore(), strategy(cfg))
		})
	})

	t.Run("a short global secret is refused", func(t *testing.T) {
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: []byte("short")}}
		require.Panics(t, func() { compose.ReciprocalFactory(cfg, memory.New(), strategy(cfg)) })
	})
}
