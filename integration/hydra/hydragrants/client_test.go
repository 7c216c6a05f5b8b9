package hydragrants

import (
	"testing"
	"time"

	"github.com/ory/hydra/v2/client"
	"github.com/ory/x/sqlxx"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
)

func TestClientMetadata(t *testing.T) {
	for name, tc := range map[string]struct {
		metadata string
		name     string
		want     map[string]any
		lifespan time.Duration
		mode     ciba.DeliveryMode
	}{
		"CIBA and device fields": {
			metadata: `{"backchannel_token_delivery_mode":"poll","device_code_lifespan":3600,"device_pickup_window":60}`,
			name:     "Demo TV",
			want: map[string]any{"backchannel_token_delivery_mode": "poll", "device_code_lifespan": 3600.0,
				"device_pickup_window": 60.0, "client_name": "Demo TV"},
			lifespan: time.Hour, mode: ciba.ModePoll,
		},
		"no metadata":           {want: map[string]any{}},
		"not an object":         {metadata: `[1,2]`, want: map[string]any{}},
		"null":                  {metadata: `null`, want: map[string]any{}},
		"broken JSON":           {metadata: `{"a":`, want: map[string]any{}},
		"a lifespan of no type": {metadata: `{"device_code_lifespan":"long"}`, want: map[string]any{"device_code_lifespan": "long"}},
		"a negative lifespan":   {metadata: `{"device_code_lifespan":-5}`, want: map[string]any{"device_code_lifespan": -5.0}},
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(&client.Client{ID: "c", Name: tc.name, Metadata: sqlxx.JSONRawMessage(tc.metadata)})
			require.Equal(t, tc.want, c.GetMetadata())
			require.Equal(t, tc.lifespan, c.GetDeviceCodeLifespan())
			md, err := ciba.MetadataOf(c)
			require.NoError(t, err)
			require.Equal(t, tc.mode, md.TokenDeliveryMode)
			require.Equal(t, tc.name, md.Name)
		})
	}
}

type meta map[string]any

func (m meta) Metadata() map[string]any { return m }

func TestMergeMetadata(t *testing.T) {
	doc := map[string]any{"issuer": "https://id.example/", "grant_types_supported": []any{"authorization_code", "refresh_token"}}
	mergeMetadata(doc, []Metadata{
		meta{"grant_types_supported": []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}, "device_authorization_endpoint": "https://id.example/device"},
		meta{"grant_types_supported": []any{"urn:openid:params:grant-type:ciba"}, "backchannel_token_delivery_modes_supported": []string{"poll"}},
	})
	require.Equal(t, map[string]any{
		"issuer":                        "https://id.example/",
		"device_authorization_endpoint": "https://id.example/device",
		"backchannel_token_delivery_modes_supported": []string{"poll"},
		"grant_types_supported": []any{"authorization_code", "refresh_token",
			"urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba"},
	}, doc)
}
