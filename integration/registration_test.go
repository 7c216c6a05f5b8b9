package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/storage/memory"
)

// registrationStore is the memory store, remembering the clients registered through it.
type registrationStore struct {
	*memory.MemoryStore
	mu      sync.Mutex
	created []string
}

func (s *registrationStore) CreateClient(ctx context.Context, c fosite.Client) error {
	if err := s.MemoryStore.CreateClient(ctx, c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created = append(s.created, c.GetID())
	return nil
}

func (s *registrationStore) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.created) }

func startWithRegistrationStore(t *testing.T) (*env, *registrationStore) {
	st := &registrationStore{MemoryStore: memory.New()}
	return start(t, func(o *server.Options) { o.Store = st }), st
}

// register posts client metadata to the registration endpoint with an initial access token.
func (e *env) register(token string, metadata any) (int, map[string]interface{}, http.Header) {
	e.t.Helper()
	b, err := json.Marshal(metadata)
	require.NoError(e.t, err)
	req, err := http.NewRequest(http.MethodPost, e.url+"/oauth2/register", bytes.NewReader(b))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var m map[string]interface{}
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m, resp.Header
}

// kioskDevice is a device with its own key pair, as in seed 001: it registers itself and authenticates
// with private_key_jwt.
type kioskDevice struct {
	key      *ecdsa.PrivateKey
	kid      string
	clientID string
}

func newKioskDevice(t *testing.T) *kioskDevice {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &kioskDevice{key: key, kid: "device-key-1"}
}

func (d *kioskDevice) metadata() map[string]any {
	return map[string]any{
		"client_name":                "Kiosk-onboarded phone",
		"grant_types":                []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: d.key.Public(), KeyID: d.kid, Use: "sig"}}},
		"scope":                      "openid offline_access",
		"software_id":                "kiosk-phone-app",
		"software_version":           "3.1",
	}
}

// assertion returns the client authentication parameters with a fresh signed assertion for aud (RFC
// 7523 §2.2, §3).
func (d *kioskDevice) assertion(t *testing.T, aud string) url.Values {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: d.key, KeyID: d.kid}}, nil)
	require.NoError(t, err)
	jti := make([]byte, 16)
	_, err = rand.Read(jti)
	require.NoError(t, err)
	now := time.Now()
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: d.clientID, Subject: d.clientID, Audience: jwt.Audience{aud}, ID: url.QueryEscape(string(jti)),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute)),
	}).CompactSerialize()
	require.NoError(t, err)
	return url.Values{
		"client_id":             {d.clientID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {raw},
	}
}

// TestRegisterDeviceClientAndRunDeviceFlow: a kiosk device registers itself over HTTP with a fresh
// P-256 key, then runs the device flow, authenticating with signed client assertions at the device
// authorization endpoint and at the token endpoint.
func TestRegisterDeviceClientAndRunDeviceFlow(t *testing.T) {
	t.Parallel()
	e, st := startWithRegistrationStore(t)

	// Discovery advertises the endpoint.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/.well-known/openid-configuration", nil)
	_, disc := e.do(req)
	require.Equal(t, e.url+"/oauth2/register", disc["registration_endpoint"])

	d := newKioskDevice(t)
	status, body, _ := e.register(adminToken, d.metadata())
	require.Equal(t, http.StatusCreated, status, "%v", body)
	d.clientID, _ = body["client_id"].(string)
	require.GreaterOrEqual(t, len(d.clientID), 22, "at least 128 random bits")
	require.NotContains(t, body, "client_secret", "a private_key_jwt client gets no secret")
	require.Equal(t, "ES256", body["token_endpoint_auth_signing_alg"])
	require.Equal(t, []any{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}, body["grant_types"])
	require.Equal(t, 1, st.count())

	// The device can read its registration back (RFC 7592 §2.1).
	req, _ = http.NewRequest(http.MethodGet, body["registration_client_uri"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+body["registration_access_token"].(string))
	status, read := e.do(req)
	require.Equal(t, http.StatusOK, status, "%v", read)
	require.Equal(t, d.clientID, read["client_id"])
	require.Equal(t, "Kiosk-onboarded phone", read["client_name"])

	// Device authorization request, authenticated with an assertion whose audience is that endpoint.
	form := d.assertion(t, e.url+"/oauth2/device/auth")
	form.Set("scope", "openid offline_access")
	status, da := e.post("/oauth2/device/auth", form, nil)
	require.Equal(t, http.StatusOK, status, "%v", da)
	deviceCode, userCode := da["device_code"].(string), da["user_code"].(string)

	poll := func() (int, map[string]interface{}) {
		form := d.assertion(t, e.url+"/oauth2/token")
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
		form.Set("device_code", deviceCode)
		return e.post("/oauth2/token", form, nil)
	}
	status, tok := poll()
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "authorization_pending", tok["error"])

	// Without an assertion the confidential client is refused.
	status, tok = e.post("/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode}, "client_id": {d.clientID}}, nil)
	require.Equal(t, http.StatusUnauthorized, status, "%v", tok)
	require.Equal(t, "invalid_client", tok["error"])

	// Staff at the kiosk approve for the proofed user.
	status, res := e.admin("/admin/device/approve", url.Values{"user_code": {userCode}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status, "%v", res)
	e.clock.Add(2 * time.Second)

	status, tok = poll()
	require.Equal(t, http.StatusOK, status, "%v", tok)
	require.NotEmpty(t, tok["access_token"])
	require.NotEmpty(t, tok["refresh_token"])
	claims := verifyIDToken(t, e, tok["id_token"].(string))
	require.Equal(t, "alice", claims.Subject)
	require.Contains(t, claims.Audience, d.clientID)

	// A replayed assertion (same jti) is refused (fosite answers its own jti_known code, 400).
	replay := d.assertion(t, e.url+"/oauth2/token")
	replay.Set("grant_type", "refresh_token")
	replay.Set("refresh_token", tok["refresh_token"].(string))
	status, fresh := e.post("/oauth2/token", replay, nil)
	require.Equal(t, http.StatusOK, status, "%v", fresh)
	status, again := e.post("/oauth2/token", replay, nil)
	require.Equal(t, http.StatusBadRequest, status, "%v", again)
	require.Equal(t, "jti_known", again["error"])
}

// TestRegistrationRefusesBadMetadata: bad metadata and missing or wrong initial access tokens get clear
// errors, and nothing is stored.
func TestRegistrationRefusesBadMetadata(t *testing.T) {
	t.Parallel()
	e, st := startWithRegistrationStore(t)
	d := newKioskDevice(t)
	with := func(changes map[string]any) map[string]any {
		m := d.metadata()
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	privateJWK, err := json.Marshal(jose.JSONWebKey{Key: d.key, KeyID: d.kid})
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		token    string
		metadata map[string]any
		status   int
		code     string
		hint     string
	}{
		{"jwks and jwks_uri", adminToken, with(map[string]any{"jwks_uri": "https://device.example/jwks"}), 400, "invalid_client_metadata", "must not both be present"},
		{"private key in jwks", adminToken, with(map[string]any{"jwks": json.RawMessage(`{"keys":[` + string(privateJWK) + `]}`)}), 400, "invalid_client_metadata", "private or symmetric key material"},
		{"HS256 for private_key_jwt", adminToken, with(map[string]any{"token_endpoint_auth_signing_alg": "HS256"}), 400, "invalid_client_metadata", "'HS256' is not allowed"},
		{"unknown grant type", adminToken, with(map[string]any{"grant_types": []string{"urn:example:teleport"}}), 400, "invalid_client_metadata", "is not supported"},
		{"http notification endpoint for ping", adminToken, with(map[string]any{
			"grant_types": []string{"urn:openid:params:grant-type:ciba"}, "backchannel_token_delivery_mode": "ping",
			"backchannel_client_notification_endpoint": "http://device.example/cb",
		}), 400, "invalid_client_metadata", "must be an https URL"},
		{"missing initial access token", "", d.metadata(), 401, "invalid_token", "Bearer"},
		{"wrong initial access token", "not-the-token", d.metadata(), 401, "invalid_token", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, header := e.register(tc.token, tc.metadata)
			require.Equal(t, tc.status, status, "%v", body)
			require.Equal(t, tc.code, body["error"])
			require.Contains(t, body["error_description"], tc.hint)
			if status == http.StatusUnauthorized {
				require.True(t, strings.HasPrefix(header.Get("WWW-Authenticate"), "Bearer"))
			}
		})
	}
	require.Zero(t, st.count(), "nothing was stored")
}

// TestRegisterCIBAClientAndRunPollMode: a CIBA poll client registers itself with private_key_jwt and
// then authenticates with signed assertions at the backchannel authentication endpoint (audience: that
// endpoint) and at the token endpoint.
func TestRegisterCIBAClientAndRunPollMode(t *testing.T) {
	t.Parallel()
	e, _ := startWithRegistrationStore(t)
	d := newKioskDevice(t)
	m := d.metadata()
	m["client_name"] = "Call-centre console"
	m["grant_types"] = []string{"urn:openid:params:grant-type:ciba", "refresh_token"}
	m["scope"] = "openid profile offline_access"
	m["backchannel_token_delivery_mode"] = "poll"
	status, body, _ := e.register(adminToken, m)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	d.clientID = body["client_id"].(string)
	require.Equal(t, "poll", body["backchannel_token_delivery_mode"])

	form := d.assertion(t, e.url+"/oauth2/bc-authorize")
	form.Set("scope", "openid profile offline_access")
	form.Set("login_hint", "alice")
	form.Set("binding_message", "K7Q2")
	status, ack := e.post("/oauth2/bc-authorize", form, nil)
	require.Equal(t, http.StatusOK, status, "%v", ack)
	authReqID := ack["auth_req_id"].(string)

	status, res := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {authReqID}})
	require.Equal(t, http.StatusOK, status, "%v", res)

	form = d.assertion(t, e.url+"/oauth2/token")
	form.Set("grant_type", "urn:openid:params:grant-type:ciba")
	form.Set("auth_req_id", authReqID)
	status, tok := e.post("/oauth2/token", form, nil)
	require.Equal(t, http.StatusOK, status, "%v", tok)
	require.NotEmpty(t, tok["access_token"])
	require.Equal(t, "alice", verifyIDToken(t, e, tok["id_token"].(string)).Subject)
}
