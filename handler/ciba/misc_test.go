package ciba_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

type metadataClient struct {
	*fosite.DefaultClient
	md map[string]any
}

func (c metadataClient) GetMetadata() map[string]any { return c.md }

func TestMetadataOf(t *testing.T) {
	t.Parallel()
	base := &fosite.DefaultClient{ID: "c"}
	for _, tc := range []struct {
		name    string
		client  fosite.Client
		want    ciba.Metadata
		wantErr bool
	}{
		{"plain client", base, ciba.Metadata{}, false},
		{"metadata map", metadataClient{base, map[string]any{
			"backchannel_token_delivery_mode": "push", "backchannel_client_notification_endpoint": "https://c.example/cb",
			"backchannel_authentication_request_signing_alg": "ES256", "backchannel_user_code_parameter": true,
			"backchannel_enrollment_fallback": true, "client_name": "C",
		}}, ciba.Metadata{Name: "C", TokenDeliveryMode: ciba.ModePush, ClientNotificationEndpoint: "https://c.example/cb",
			RequestSigningAlg: "ES256", UserCodeParameter: true, EnrollmentFallback: true}, false},
		{"nil values", metadataClient{base, map[string]any{"backchannel_token_delivery_mode": nil}}, ciba.Metadata{}, false},
		{"mode of the wrong type", metadataClient{base, map[string]any{"backchannel_token_delivery_mode": 1.0}}, ciba.Metadata{}, true},
		{"flag of the wrong type", metadataClient{base, map[string]any{"backchannel_user_code_parameter": "true"}}, ciba.Metadata{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ciba.MetadataOf(tc.client)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDefaultClientRoundTrip(t *testing.T) {
	t.Parallel()
	c := &ciba.DefaultClient{
		DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{DefaultClient: &fosite.DefaultClient{ID: "c"}},
		Name:                       "C", BackchannelTokenDeliveryMode: ciba.ModePing,
		BackchannelClientNotificationEndpoint: "https://c.example/cb", BackchannelUserCodeParameter: true,
	}
	fromJSON := &ciba.DefaultClient{}
	b, err := jsonMarshal(c)
	require.NoError(t, err)
	require.NoError(t, jsonUnmarshal(b, fromJSON))
	require.Equal(t, c.GetID(), fromJSON.GetID())
	want, _ := ciba.MetadataOf(c)
	got, _ := ciba.MetadataOf(fromJSON)
	require.Equal(t, want, got)
	viaMap, err := ciba.MetadataOf(metadataClient{&fosite.DefaultClient{ID: "c"}, c.GetMetadata()})
	require.NoError(t, err)
	require.Equal(t, want, viaMap, "GetMetadata carries everything MetadataOf reads")
}

func TestCheckNotificationEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://client.example/cb", false, true},
		{"http://client.example/cb", false, false},
		{"http://client.example/cb", true, false},
		{"http://127.0.0.1:8080/cb", false, false},
		{"http://127.0.0.1:8080/cb", true, true},
		{"http://localhost/cb", true, true},
		{"https://user:pw@client.example/cb", false, false},
		{"https://client.example/cb#frag", false, false},
		{"/cb", false, false},
		{"mailto:a@b", false, false},
		{"", false, false},
	} {
		err := ciba.CheckNotificationEndpoint(tc.url, tc.loopback)
		require.Equal(t, tc.ok, err == nil, "%s (loopback %v): %v", tc.url, tc.loopback, err)
	}
}

func TestSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &ciba.Sealer{Config: &fosite.Config{GlobalSecret: globalSecret}}
	sealed, err := s.Seal(ctx, "ref-1", "the token")
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "the token")
	got, err := s.Open(ctx, "ref-1", sealed)
	require.NoError(t, err)
	require.Equal(t, "the token", got)
	_, err = s.Open(ctx, "ref-2", sealed)
	require.Error(t, err, "a sealed token moved to another record does not open")
	_, err = s.Open(ctx, "ref-1", sealed[:5])
	require.Error(t, err)
	other := &ciba.Sealer{Config: &fosite.Config{GlobalSecret: []byte("another secret of 32 bytes......")}}
	_, err = other.Open(ctx, "ref-1", sealed)
	require.Error(t, err)
	short := &ciba.Sealer{Config: &fosite.Config{GlobalSecret: []byte("short")}}
	_, err = short.Seal(ctx, "ref-1", "x")
	require.Error(t, err)
}

func TestNewRequiresAppInterfaces(t *testing.T) {
	t.Parallel()
	key := grantstest.Key(t)
	cfg := &fosite.Config{GlobalSecret: globalSecret, IDTokenIssuer: issuer}
	core := fcompose.NewOAuth2HMACStrategy(cfg)
	tokens := pending.TokenStrategies{AccessToken: core, RefreshToken: core,
		IDToken: fcompose.NewOpenIDConnectStrategy(func(context.Context) (interface{}, error) { return key, nil }, cfg)}
	dir, ad := &directory{}, &inbox{}
	_, err := ciba.New(cfg, memory.New(), tokens, ciba.Options{Devices: ad})
	require.EqualError(t, err, "ciba: Options.Resolver (a HintResolver) is required")
	_, err = ciba.New(cfg, memory.New(), tokens, ciba.Options{Resolver: dir})
	require.EqualError(t, err, "ciba: Options.Devices (an AuthenticationDevice) is required")
	_, err = ciba.New(cfg, memory.New(), pending.TokenStrategies{AccessToken: core, RefreshToken: core}, ciba.Options{Resolver: dir, Devices: ad})
	require.ErrorContains(t, err, "ID token strategy")
	_, err = ciba.New(cfg, memory.New(), tokens, ciba.Options{Resolver: dir, Devices: ad})
	require.NoError(t, err)
	// Through compose, the same errors fail at start-up, naming the grant.
	require.PanicsWithValue(t, "compose: CIBA: ciba: Options.Resolver (a HintResolver) is required", func() {
		compose.Compose(cfg, memory.New(), &fcompose.CommonStrategy{CoreStrategy: core}, compose.NewCIBAGrant(ciba.Options{Devices: ad}).Factory)
	})
}

func jsonMarshal(v interface{}) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v interface{}) error { return json.Unmarshal(b, v) }
