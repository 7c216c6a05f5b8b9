package hydragrants

import (
	"encoding/json"
	"math"
	"time"

	"github.com/ory/hydra/v2/client"

	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// Client is a Hydra client as this module's grants see it: Hydra's client, whose free-form metadata
// (the "metadata" object of Hydra's admin API) carries the registration fields Hydra v2.3.0 has no
// column for, read through GetMetadata — CIBA's backchannel_token_delivery_mode,
// backchannel_client_notification_endpoint, backchannel_user_code_parameter and
// backchannel_enrollment_fallback (OpenID CIBA Core §4), and the device grant's device_code_lifespan and
// device_pickup_window (seconds, rfc8628.DeviceLifespanClient). A client that starts CIBA needs backchannel_token_delivery_mode there, for
// example:
//
//	{"client_id": "demo-ciba-poll", "grant_types": ["urn:openid:params:grant-type:ciba"],
//	 "metadata": {"backchannel_token_delivery_mode": "poll"}, ...}
type Client struct {
	*client.Client
	metadata map[string]any
}

var _ rfc8628.DeviceLifespanClient = (*Client)(nil)

func newClient(c *client.Client) *Client {
	m := map[string]any{}
	if len(c.Metadata) > 0 {
		// Hydra stores metadata as JSON; anything but an object reads as none.
		_ = json.Unmarshal(c.Metadata, &m)
		if m == nil {
			m = map[string]any{}
		}
	}
	if c.Name != "" {
		m["client_name"] = c.Name
	}
	return &Client{Client: c, metadata: m}
}

// GetMetadata returns the client's metadata object, with client_name.
func (c *Client) GetMetadata() map[string]any { return c.metadata }

// GetClientName returns the client's display name (client_name).
func (c *Client) GetClientName() string { return c.Name }

// Hydra returns Hydra's client.
func (c *Client) Hydra() *client.Client { return c.Client }

// GetDeviceCodeLifespan implements rfc8628.DeviceLifespanClient: metadata device_code_lifespan, in
// seconds; 0 (the server's default) when absent or not a positive number.
func (c *Client) GetDeviceCodeLifespan() time.Duration { return c.seconds("device_code_lifespan") }

// GetDevicePickupWindow implements rfc8628.DeviceLifespanClient: metadata device_pickup_window, in
// seconds; 0 when absent or not a positive number.
func (c *Client) GetDevicePickupWindow() time.Duration { return c.seconds("device_pickup_window") }

func (c *Client) seconds(name string) time.Duration {
	f, ok := c.metadata[name].(float64)
	if !ok || f <= 0 || f > float64(math.MaxInt64/int64(time.Second)) {
		return 0
	}
	return time.Duration(f) * time.Second
}
