package registration_test

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestComposeRegistration(t *testing.T) {
	t.Parallel()
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		cfg := &compose.Config{Config: &fosite.Config{}}
		p := cfg.GetRegistrationPolicy(context.Background())
		require.Contains(t, p.GrantTypes, registration.GrantTypeDeviceCode)
		require.Contains(t, p.Extensions, registration.FieldDeviceCodeLifespan)
		require.False(t, p.AllowLoopbackHTTP)
		per, global, window := cfg.GetRegistrationAttemptLimits(context.Background())
		require.Equal(t, []any{10, 1000, 15 * time.Minute}, []any{per, global, window})
	})
	t.Run("no URL, no discovery entry", func(t *testing.T) {
		t.Parallel()
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: make([]byte, 32)}}
		p := compose.Compose(cfg, memory.New(), nil, compose.RegistrationFactory)
		require.NotNil(t, p.Registration)
		require.NotContains(t, p.Metadata(), "registration_endpoint")
	})
	t.Run("not composed", func(t *testing.T) {
		t.Parallel()
		cfg := &compose.Config{Config: &fosite.Config{GlobalSecret: make([]byte, 32)}, Registration: compose.RegistrationConfig{URL: "https://as.example/r"}}
		p := compose.Compose(cfg, memory.New(), nil)
		require.Nil(t, p.Registration)
		require.NotContains(t, p.Metadata(), "registration_endpoint")
	})
	t.Run("storage without CreateClient", func(t *testing.T) {
		t.Parallel()
		cfg := &compose.Config{Config: &fosite.Config{}}
		require.PanicsWithValue(t, "compose: RegistrationFactory needs a value implementing registration.Storage, got *storage.MemoryStore", func() {
			compose.RegistrationFactory(cfg, storage.NewMemoryStore(), nil)
		})
	})
	t.Run("custom token check", func(t *testing.T) {
		t.Parallel()
		cfg := &compose.Config{Config: &fosite.Config{}, Registration: compose.RegistrationConfig{
			VerifyInitialAccessToken: func(_ context.Context, token string) error {
				if token == "ok" {
					return nil
				}
				return registration.ErrInvalidToken
			},
		}}
		ep := compose.NewRegistrationEndpoint(cfg, memory.New())
		require.NoError(t, ep.Tokens.VerifyInitialAccessToken(context.Background(), "ok"))
		require.ErrorIs(t, ep.Tokens.VerifyInitialAccessToken(context.Background(), "no"), registration.ErrInvalidToken)
	})
}
