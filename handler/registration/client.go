package registration

import (
	"math"
	"time"

	"github.com/ory/fosite"
)

// Client is a dynamically registered client: fosite's OpenID Connect client, which fosite authenticates
// with the registered token_endpoint_auth_method (private_key_jwt included), plus the registration
// metadata fosite has no field for (client_name, contacts, software_id, CIBA's backchannel_* fields,
// extension fields), as JSON types.
//
// The SQL store of this module keeps Metadata (it reads GetMetadata) and returns its own client type
// with the same getters.
type Client struct {
	fosite.DefaultOpenIDConnectClient
	// Metadata holds the registration metadata fosite has no field for, by its RFC 7591 name.
	Metadata map[string]any
}

// GetMetadata returns the client's registration metadata.
func (c *Client) GetMetadata() map[string]any { return c.Metadata }

var _ fosite.OpenIDConnectClient = (*Client)(nil)

// Extension metadata fields for the device grant (RFC 8628) that DefaultPolicy-based servers may enable
// with DurationSeconds validators: per-client lifetimes, in seconds, for a staffed-kiosk deployment
// where codes live for days.
const (
	// FieldDeviceCodeLifespan is how long the client's device and user codes live.
	FieldDeviceCodeLifespan = "device_code_lifespan"
	// FieldDevicePickupWindow is how long, after approval, the client has to redeem a device code.
	FieldDevicePickupWindow = "device_pickup_window"
)

// GetDeviceCodeLifespan returns the registered device_code_lifespan, 0 when there is none (the
// server's default then applies).
func (c *Client) GetDeviceCodeLifespan() time.Duration { return c.seconds(FieldDeviceCodeLifespan) }

// GetDevicePickupWindow returns the registered device_pickup_window, 0 when there is none.
func (c *Client) GetDevicePickupWindow() time.Duration { return c.seconds(FieldDevicePickupWindow) }

func (c *Client) seconds(name string) time.Duration {
	f, ok := c.Metadata[name].(float64)
	if !ok || f <= 0 || f > float64(math.MaxInt64/int64(time.Second)) {
		return 0
	}
	return time.Duration(f) * time.Second
}
