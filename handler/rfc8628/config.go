package rfc8628

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
)

// GrantType is the grant type of the device access token request (RFC 8628 §3.4).
const GrantType fosite.GrantType = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceCodeLifespanProvider gives how long device and user codes live (RFC 8628 §3.2 expires_in).
type DeviceCodeLifespanProvider interface {
	GetDeviceCodeLifespan(ctx context.Context) time.Duration
}

// DevicePollingIntervalProvider gives the minimum time between polls (RFC 8628 §3.2 interval) and how
// much a slow_down adds to it (§3.5: 5 seconds).
type DevicePollingIntervalProvider interface {
	GetDevicePollingInterval(ctx context.Context) time.Duration
}

// DeviceVerificationURIProvider gives the end-user verification URI shown on the device (§3.2).
type DeviceVerificationURIProvider interface {
	GetDeviceVerificationURI(ctx context.Context) string
}

// UserCodeFormatProvider gives the user-code format (§6.1).
type UserCodeFormatProvider interface {
	GetUserCodeFormat(ctx context.Context) pending.UserCodeFormat
}

// UserCodeAttemptLimitsProvider gives the user-code guessing limits (§5.1): failures allowed per client
// address and in all, within a window.
type UserCodeAttemptLimitsProvider interface {
	GetUserCodeAttemptLimits(ctx context.Context) (perAddress, global int, window time.Duration)
}

// SlowDownStep is what a slow_down adds to the polling interval (RFC 8628 §3.5).
const SlowDownStep = 5 * time.Second

// Config is what the device grant's handlers read.
type Config interface {
	fosite.ScopeStrategyProvider
	fosite.AudienceStrategyProvider
	DeviceCodeLifespanProvider
	DevicePollingIntervalProvider
	DeviceVerificationURIProvider
	UserCodeFormatProvider
	UserCodeAttemptLimitsProvider
}
