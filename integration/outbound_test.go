package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/clientauth"
	"github.com/fosite-contrib/grants/example/server"
)

// hugeJWKS is a jwks_uri that streams 600 MB of JSON-looking whitespace (chunked: no Content-Length
// for the server to refuse early), counting its requests and the bytes it managed to write.
type hugeJWKS struct {
	*httptest.Server
	hits, written atomic.Int64
	done          chan struct{} // one value per request, when its handler has returned
}

func newHugeJWKS(t *testing.T) *hugeJWKS {
	t.Helper()
	h := &hugeJWKS{done: make(chan struct{}, 16)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.hits.Add(1)
		defer func() { h.done <- struct{}{} }()
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(`{"keys":[` + strings.Repeat(" ", 32<<10))
		for sent := int64(0); sent < 600<<20; {
			n, err := w.Write(chunk)
			sent += int64(n)
			h.written.Add(int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
			chunk = chunk[9:9]
			chunk = append(chunk, strings.Repeat(" ", 32<<10)...)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// TestHugeJWKSURIIsInvalidClient: a dynamically registered private_key_jwt client whose jwks_uri
// serves 600 MB gets 401 invalid_client at the token endpoint and at the device authorization
// endpoint; the server reads no more than the fetcher's cap (the jwks server could write only a few
// MB before the connection closed), fetches the URI at most once per interval, and keeps serving
// everyone else.
func TestHugeJWKSURIIsInvalidClient(t *testing.T) {
	t.Parallel()
	e, _ := startWithRegistrationStore(t)
	huge := newHugeJWKS(t)
	d := newKioskDevice(t)
	md := d.metadata()
	delete(md, "jwks")
	md["jwks_uri"] = huge.URL + "/jwks"
	md["token_endpoint_auth_signing_alg"] = "ES256"
	status, body, _ := e.register(adminToken, md)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	d.clientID = body["client_id"].(string)

	// Token endpoint (RFC 7523 §2.2 client authentication, RFC 6749 §5.2 error).
	form := d.assertion(t, e.url+"/oauth2/token")
	form.Set("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
	form.Set("device_code", "whatever")
	status, res := e.post("/oauth2/token", form, nil)
	require.Equal(t, http.StatusUnauthorized, status, "%v", res)
	require.Equal(t, "invalid_client", res["error"])
	<-huge.done
	require.Less(t, huge.written.Load(), int64(32<<20), "the jwks server wrote %d bytes", huge.written.Load())

	// Device authorization endpoint (RFC 8628 §3.1): the failure is remembered, no new fetch.
	form = d.assertion(t, e.url+"/oauth2/device/auth")
	form.Set("scope", "openid")
	status, res = e.post("/oauth2/device/auth", form, nil)
	require.Equal(t, http.StatusUnauthorized, status, "%v", res)
	require.Equal(t, "invalid_client", res["error"])
	require.EqualValues(t, 1, huge.hits.Load())

	// After the minimum interval, one more fetch, with the same answer.
	e.clock.Add(clientauth.DefaultJWKSMinRefetchInterval)
	form = d.assertion(t, e.url+"/oauth2/device/auth")
	form.Set("scope", "openid")
	status, res = e.post("/oauth2/device/auth", form, nil)
	require.Equal(t, http.StatusUnauthorized, status, "%v", res)
	require.Equal(t, "invalid_client", res["error"])
	<-huge.done
	require.EqualValues(t, 2, huge.hits.Load())

	// Everyone else is served: a device authorization for the demo TV client, and a registered
	// client whose keys are inline.
	status, res = e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
	require.NotEmpty(t, res["device_code"])
	good := newKioskDevice(t)
	status, body, _ = e.register(adminToken, good.metadata())
	require.Equal(t, http.StatusCreated, status, "%v", body)
	good.clientID = body["client_id"].(string)
	form = good.assertion(t, e.url+"/oauth2/device/auth")
	form.Set("scope", "openid")
	status, res = e.post("/oauth2/device/auth", form, nil)
	require.Equal(t, http.StatusOK, status, "%v", res)
}

// TestCIBASignedRequestWithUnusableJWKSURI: a CIBA client whose request objects are to be verified
// with keys at a jwks_uri that serves 600 MB gets 400 invalid_request at the backchannel
// authentication endpoint (CIBA Core §13), not a server error.
func TestCIBASignedRequestWithUnusableJWKSURI(t *testing.T) {
	t.Parallel()
	e, _ := startWithRegistrationStore(t)
	huge := newHugeJWKS(t)
	status, body, _ := e.register(adminToken, map[string]any{
		"grant_types":                                    []string{"urn:openid:params:grant-type:ciba"},
		"token_endpoint_auth_method":                     "client_secret_basic",
		"backchannel_token_delivery_mode":                "poll",
		"backchannel_authentication_request_signing_alg": "ES256",
		"jwks_uri": huge.URL + "/jwks",
		"scope":    "openid",
	})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	clientID, secret := body["client_id"].(string), body["client_secret"].(string)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	require.NoError(t, err)
	now := time.Now()
	request, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": clientID, "aud": e.url, "jti": "req-1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"scope": "openid", "login_hint": "alice", "binding_message": "W4SCT",
	}).CompactSerialize()
	require.NoError(t, err)
	status, res := e.post("/oauth2/bc-authorize", url.Values{"request": {request}}, cibaBasic(clientID, secret))
	require.Equal(t, http.StatusBadRequest, status, "%v", res)
	require.Equal(t, "invalid_request", res["error"])
	<-huge.done
	require.Less(t, huge.written.Load(), int64(32<<20))
}

// TestRegistrationRefusesInternalJWKSURIOutsideDevMode: with -dev=false the registration endpoint
// refuses a jwks_uri or notification endpoint on loopback, private or link-local addresses.
func TestRegistrationRefusesInternalJWKSURIOutsideDevMode(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *server.Options) { o.Dev = false })
	d := newKioskDevice(t)
	for _, u := range []string{"https://127.0.0.1/jwks", "https://[::1]/jwks", "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/jwks", "https://localhost/jwks"} {
		md := d.metadata()
		delete(md, "jwks")
		md["jwks_uri"] = u
		status, body, _ := e.register(adminToken, md)
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", u, body)
		require.Equal(t, "invalid_client_metadata", body["error"], u)
	}
}

// TestCIBACallbacksToLoopbackOnlyInDevMode: outside development the example neither accepts a
// request from a ping or push client whose notification endpoint is on loopback nor calls it back;
// the receiver hears nothing.
func TestCIBACallbacksToLoopbackOnlyInDevMode(t *testing.T) {
	t.Parallel()
	e := startCIBA(t, func(o *server.Options) { o.Dev = false })
	for _, client := range []string{"demo-ciba-ping", "demo-ciba-push"} {
		form := url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "binding_message": {"W4SCT"},
			"client_notification_token": {"notif-" + strings.Repeat("x", 40)}}
		status, res := e.bc(client, form)
		require.Equal(t, http.StatusBadRequest, status, "%s: %v", client, res)
		require.Equal(t, "unauthorized_client", res["error"], client)
	}
	require.Empty(t, e.ping.got)
	require.Empty(t, e.push.got)
}
