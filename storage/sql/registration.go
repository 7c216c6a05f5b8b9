package sqlstore

import (
	"math"
	"time"
)

// Per-client device-grant lifetimes registered dynamically (package handler/registration stores them in
// the client's metadata as device_code_lifespan and device_pickup_window, in seconds). With these
// methods a stored Client satisfies rfc8628.DeviceLifespanClient.

// GetDeviceCodeLifespan returns the client's registered device_code_lifespan, 0 when it has none.
func (c *Client) GetDeviceCodeLifespan() time.Duration {
	return metadataSeconds(c.Metadata, "device_code_lifespan")
}

// GetDevicePickupWindow returns the client's registered device_pickup_window, 0 when it has none.
func (c *Client) GetDevicePickupWindow() time.Duration {
	return metadataSeconds(c.Metadata, "device_pickup_window")
}

func metadataSeconds(m map[string]any, name string) time.Duration {
	f, ok := m[name].(float64)
	if !ok || f <= 0 || f > float64(math.MaxInt64/int64(time.Second)) {
		return 0
	}
	return time.Duration(f) * time.Second
}
