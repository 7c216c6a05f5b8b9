package rfc8628

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// MaxDeviceLifespan bounds a device code's lifetime and its pickup window: a week each, as in the
// staffed-kiosk deployment (the person may need days to reach a kiosk, then days to bring the device
// back online). Longer values are cut to it.
const MaxDeviceLifespan = 7 * 24 * time.Hour

// DeviceLifespanClient is a client with its own device-grant lifetimes (client metadata). A zero value
// means the configured default; values above MaxDeviceLifespan are cut to it.
type DeviceLifespanClient interface {
	fosite.Client
	// GetDeviceCodeLifespan is how long this client's device and user codes live (RFC 8628 §3.2 expires_in).
	GetDeviceCodeLifespan() time.Duration
	// GetDevicePickupWindow is how long, after approval, this client has to redeem the device code.
	GetDevicePickupWindow() time.Duration
}

// DevicePickupWindowProvider gives the default pickup window: once a request is approved, the device
// has this long from the approval to redeem it, whatever was left of the code's lifetime. Zero keeps
// the code's original expiry.
type DevicePickupWindowProvider interface {
	GetDevicePickupWindow(ctx context.Context) time.Duration
}

// DeviceRepeatApprovalWindowProvider gives how far back the repeat-approval warning looks for earlier
// approvals of the same client by the same user.
type DeviceRepeatApprovalWindowProvider interface {
	GetDeviceRepeatApprovalWindow(ctx context.Context) time.Duration
}

// PrintedUserCodeKeyProvider gives the key from which a client's pre-printed user codes are derived
// (see PrintedUserCode), or nil when the client has none. A client with a key may send device_serial.
type PrintedUserCodeKeyProvider interface {
	GetPrintedUserCodeKey(ctx context.Context, clientID string) []byte
}

// DeviceClientLifespanProvider gives per-client lifetimes from configuration, for stores that keep no
// client metadata beyond fosite's. Zero values mean the default. A DeviceLifespanClient's own values
// take precedence.
type DeviceClientLifespanProvider interface {
	GetDeviceClientLifespans(ctx context.Context, clientID string) (lifespan, pickup time.Duration)
}

// lifespans returns the device code lifetime and the pickup window for client.
func lifespans(ctx context.Context, config interface{}, client fosite.Client) (lifespan, pickup time.Duration) {
	if c, ok := config.(DeviceCodeLifespanProvider); ok {
		lifespan = c.GetDeviceCodeLifespan(ctx)
	}
	if c, ok := config.(DevicePickupWindowProvider); ok {
		pickup = c.GetDevicePickupWindow(ctx)
	}
	if c, ok := config.(DeviceClientLifespanProvider); ok && client != nil {
		if l, p := c.GetDeviceClientLifespans(ctx, client.GetID()); l > 0 || p > 0 {
			if l > 0 {
				lifespan = l
			}
			if p > 0 {
				pickup = p
			}
		}
	}
	if dc, ok := client.(DeviceLifespanClient); ok {
		if l := dc.GetDeviceCodeLifespan(); l > 0 {
			lifespan = l
		}
		if p := dc.GetDevicePickupWindow(); p > 0 {
			pickup = p
		}
	}
	if lifespan <= 0 {
		lifespan = 10 * time.Minute
	}
	return min(lifespan, MaxDeviceLifespan), min(max(pickup, 0), MaxDeviceLifespan)
}

// DeviceClient is a ready-made DeviceLifespanClient: a fosite.DefaultClient with its own lifetimes.
type DeviceClient struct {
	*fosite.DefaultClient
	DeviceCodeLifespan time.Duration `json:"device_code_lifespan,omitempty"`
	DevicePickupWindow time.Duration `json:"device_pickup_window,omitempty"`
}

// GetDeviceCodeLifespan implements DeviceLifespanClient.
func (c *DeviceClient) GetDeviceCodeLifespan() time.Duration { return c.DeviceCodeLifespan }

// GetDevicePickupWindow implements DeviceLifespanClient.
func (c *DeviceClient) GetDevicePickupWindow() time.Duration { return c.DevicePickupWindow }
