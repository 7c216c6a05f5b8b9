package registration_test

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/storage/memory"
)

func TestComposeRegistration(t *testing.T) {
	t.Parallel()
	tokens := registration.NewStaticTokens("initial")
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		p := compose.DefaultRegistrationPolicy()
		require.Contains(t, p.GrantTypes, registration.GrantTypeDeviceCode)
		require.Contains(t, p.Extensions, registration.FieldDeviceCodeLifespan)
		require.False(t, p.AllowLoopbackHTTP)
		r := compose.NewRegistration(registration.Options{Tokens: tokens})
		r.Factory(&fosite.Config{}, memory.New(), nil)
		require.Equal(t, pending.Limits{PerAddress: 10, Global: 1000, Window: 15 * time.Minute}, r.Limiter.Limits)
		require.Contains(t, r.Config.GetRegistrationPolicy(context.Background()).Extensions, registration.FieldDeviceCodeLifespan)
	})
	t.Run("no URL, no discovery entry", func(t *testing.T) {
		t.Parallel()
		r := compose.NewRegistration(registration.Options{Tokens: tokens})
		p := compose.Compose(&fosite.Config{GlobalSecret: make([]byte, 32)}, memory.New(), nil, r.Factory)
		require.NotNil(t, r.Endpoint)
		require.NotContains(t, p.Metadata(), "registration_endpoint")
	})
	t.Run("URL, discovery entry", func(t *testing.T) {
		t.Parallel()
		r := compose.NewRegistration(registration.Options{Tokens: tokens, URL: "https://as.example/r"})
		p := compose.Compose(&fosite.Config{GlobalSecret: make([]byte, 32)}, memory.New(), nil, r.Factory)
		require.Equal(t, "https://as.example/r", p.Metadata()["registration_endpoint"])
	})
	t.Run("storage without CreateClient", func(t *testing.T) {
		t.Parallel()
		require.PanicsWithValue(t, "compose: client registration needs a value implementing registration.RegistrationStorage, got *storage.MemoryStore", func() {
			compose.NewRegistration(registration.Options{Tokens: tokens}).Factory(&fosite.Config{}, storage.NewMemoryStore(), nil)
		})
	})
	t.Run("no token check", func(t *testing.T) {
		t.Parallel()
		_, err := registration.New(&fosite.Config{}, memory.New(), registration.Options{})
		require.ErrorContains(t, err, "Options.Tokens")
	})
	t.Run("custom token check", func(t *testing.T) {
		t.Parallel()
		ep, err := registration.New(&fosite.Config{}, memory.New(), registration.Options{
			Tokens: registration.TokenVerifierFunc(func(_ context.Context, token string) error {
				if token == "ok" {
					return nil
				}
				return registration.ErrInvalidToken
			}),
		})
		require.NoError(t, err)
		require.NoError(t, ep.Tokens.VerifyInitialAccessToken(context.Background(), "ok"))
		require.ErrorIs(t, ep.Tokens.VerifyInitialAccessToken(context.Background(), "no"), registration.ErrInvalidToken)
	})
}
