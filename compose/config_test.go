package compose_test

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name               string
		cfg                compose.Config
		lifespan, interval time.Duration
		format             pending.UserCodeFormat
		perAddr, global    int
		window             time.Duration
	}{
		{name: "zero value gives the defaults", lifespan: 10 * time.Minute, interval: 5 * time.Second,
			format: pending.UserCodeBase20, perAddr: 20, global: 1000, window: 15 * time.Minute},
		{name: "negative durations give the defaults",
			cfg:      compose.Config{DeviceCodeLifespan: -1, DevicePollingInterval: -1, UserCodeAttemptWindow: -1},
			lifespan: 10 * time.Minute, interval: 5 * time.Second,
			format: pending.UserCodeBase20, perAddr: 20, global: 1000, window: 15 * time.Minute},
		{name: "set values are used",
			cfg: compose.Config{DeviceCodeLifespan: time.Hour, DevicePollingInterval: 3 * time.Second, UserCodeFormat: pending.UserCodeDigits,
				UserCodeAttemptsPerAddress: 2, UserCodeAttemptsGlobal: 9, UserCodeAttemptWindow: time.Minute},
			lifespan: time.Hour, interval: 3 * time.Second, format: pending.UserCodeDigits, perAddr: 2, global: 9, window: time.Minute},
		{name: "interval rounds to whole seconds (RFC 8628 §3.2 interval is in seconds)",
			cfg:      compose.Config{DevicePollingInterval: 7400 * time.Millisecond},
			lifespan: 10 * time.Minute, interval: 7 * time.Second,
			format: pending.UserCodeBase20, perAddr: 20, global: 1000, window: 15 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.cfg
			c.Config = &fosite.Config{}
			require.Equal(t, tc.lifespan, c.GetDeviceCodeLifespan(ctx))
			require.Equal(t, tc.interval, c.GetDevicePollingInterval(ctx))
			require.Equal(t, tc.format, c.GetUserCodeFormat(ctx))
			per, global, window := c.GetUserCodeAttemptLimits(ctx)
			require.Equal(t, tc.perAddr, per)
			require.Equal(t, tc.global, global)
			require.Equal(t, tc.window, window)
			require.NoError(t, c.GetUserCodeFormat(ctx).Validate())
		})
	}
}

// TestConfigTokenURLs: a private_key_jwt assertion sent to the device endpoint may name it, the issuer
// or the token endpoint as its audience.
func TestConfigTokenURLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &compose.Config{
		Config:                 &fosite.Config{TokenURL: "https://example.com/token", IDTokenIssuer: "https://example.com"},
		DeviceAuthorizationURL: "https://example.com/device/auth",
	}
	require.ElementsMatch(t, []string{"https://example.com/token", "https://example.com", "https://example.com/device/auth"}, c.GetTokenURLs(ctx))

	bare := &compose.Config{Config: &fosite.Config{TokenURL: "https://example.com/token"}}
	require.Equal(t, []string{"https://example.com/token"}, bare.GetTokenURLs(ctx))
}
