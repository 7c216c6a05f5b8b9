package rfc8628_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

var userCodePattern = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// requireDeviceResponse checks a successful device authorization response (RFC 8628 §3.2) and returns it.
func requireDeviceResponse(t *testing.T, res *gt.Response) *rfc8628.DeviceResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	require.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"), res.Header.Get("Content-Type"))

	m := res.JSON(t)
	for _, field := range []string{"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"} {
		require.Contains(t, m, field)
	}
	var d rfc8628.DeviceResponse
	require.NoError(t, json.Unmarshal(res.Body, &d))
	require.Regexp(t, userCodePattern, d.UserCode)
	require.GreaterOrEqual(t, len(d.DeviceCode), 43, "RFC 8628 §5.2: a device code of high entropy")
	require.Equal(t, gt.VerificationURI, d.VerificationURI)
	require.EqualValues(t, 600, d.ExpiresIn)
	require.EqualValues(t, 5, d.Interval)

	// RFC 8628 §3.3.1: the complete URI carries the user code and keeps the configured query.
	u, err := url.Parse(d.VerificationURIComplete)
	require.NoError(t, err)
	require.Equal(t, "https", u.Scheme)
	require.Equal(t, "example.com", u.Host)
	require.Equal(t, "/device", u.Path)
	require.Equal(t, url.Values{"lang": {"en"}, "user_code": {d.UserCode}}, u.Query())
	return &d
}

func TestDeviceAuthorizationSuccess(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  gt.Request
	}{
		{"public client with client_id only", gt.Request{Form: url.Values{"client_id": {gt.PublicClientID}}}},
		{"public client with scope", gt.Request{Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid offline_access"}}}},
		{"confidential client via Basic", gt.Request{BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret, Form: url.Values{"scope": {"openid"}}}},
		{"confidential client via Basic with its own client_id", gt.Request{BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret,
			Form: url.Values{"client_id": {gt.ConfidentialClientID}}}},
		{"confidential client via post", gt.Request{Form: url.Values{"client_id": {gt.ConfidentialClientID}, "client_secret": {gt.ConfidentialSecret}}}},
		{"empty parameters count as absent", gt.Request{RawBody: "client_id=" + gt.PublicClientID + "&scope=&login_hint="}},
		{"unknown parameters ignored", gt.Request{Form: url.Values{"client_id": {gt.PublicClientID}, "foo": {"bar"}}}},
		{"charset in content type", gt.Request{ContentType: "application/x-www-form-urlencoded; charset=utf-8", Form: url.Values{"client_id": {gt.PublicClientID}}}},
		{"allowed audience", gt.Request{Form: url.Values{"client_id": {gt.PublicClientID}, "audience": {"https://api.example.com"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			tc.req.Path = gt.DevicePath
			requireDeviceResponse(t, s.Do(t, tc.req))
		})
	}
}

func TestDeviceAuthorizationGolden(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	res := s.Do(t, gt.Request{Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid"}}})
	d := requireDeviceResponse(t, res)
	gt.Golden(t, "device_authorization_success", res, map[string]string{d.DeviceCode: "<device_code>", d.UserCode: "<user_code>"})
}

// TestDeviceAuthorizationStoresGrant checks what the endpoint stores: the request as asked, the device
// as seen (RFC 8628 §5.4), and never a client secret or the codes themselves.
func TestDeviceAuthorizationStoresGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := gt.New(t, nil)
	res := s.Do(t, gt.Request{Path: gt.DevicePath, Form: url.Values{
		"client_id": {gt.ConfidentialClientID}, "client_secret": {gt.ConfidentialSecret},
		"scope": {"openid photos"}, "login_hint": {"alice@example.com"},
	}})
	d := requireDeviceResponse(t, res)

	sig, err := s.Codes().HandleSignature(ctx, d.DeviceCode)
	require.NoError(t, err)
	g, err := s.Store.GetPendingGrant(ctx, pending.KindDeviceCode, sig, nil)
	require.NoError(t, err)
	require.Equal(t, pending.StatePending, g.State)
	require.Equal(t, gt.ConfidentialClientID, g.ClientID())
	require.Equal(t, []string{"openid", "photos"}, []string(g.Request.GetRequestedScopes()))
	require.Equal(t, "alice@example.com", g.LoginHint)
	require.Equal(t, "127.0.0.1", g.Device.RemoteAddr)
	require.Equal(t, gt.UserAgent, g.Device.UserAgent)
	require.Equal(t, s.Clock.Now(), g.CreatedAt)
	require.Equal(t, s.Clock.Now().Add(s.Device.Options().CodeLifespan), g.ExpiresAt)
	require.Empty(t, g.Request.GetRequestForm().Get("client_secret"), "a client secret is never stored")
	require.NotEqual(t, d.DeviceCode, g.HandleSignature)
	require.NotContains(t, g.UserCodeSignature, strings.ReplaceAll(d.UserCode, "-", ""))

	a, err := s.Device.Verifier.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"})
	require.NoError(t, err)
	require.Equal(t, g.Request.GetID(), a.RequestID)
}

func TestDeviceAuthorizationCodesAreUnique(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	devices, users := map[string]bool{}, map[string]bool{}
	for i := 0; i < 50; i++ {
		d := s.StartDevice(t, gt.PublicClientID, "")
		require.False(t, devices[d.DeviceCode])
		require.False(t, users[d.UserCode])
		devices[d.DeviceCode], users[d.UserCode] = true, true
	}
}

func TestDeviceAuthorizationErrors(t *testing.T) {
	t.Parallel()
	public := "client_id=" + gt.PublicClientID
	for _, tc := range []struct {
		name   string
		req    gt.Request
		status int
		code   string
	}{
		{"basic_and_other_body_client_id", gt.Request{BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret,
			Form: url.Values{"client_id": {gt.PublicClientID}}}, http.StatusBadRequest, "invalid_request"},
		{"unknown_client", gt.Request{Form: url.Values{"client_id": {"nobody"}}}, http.StatusUnauthorized, "invalid_client"},
		{"wrong_secret_basic", gt.Request{BasicUser: gt.ConfidentialClientID, BasicPassword: "wrong"}, http.StatusUnauthorized, "invalid_client"},
		{"wrong_secret_post", gt.Request{Form: url.Values{"client_id": {gt.ConfidentialClientID}, "client_secret": {"wrong"}}},
			http.StatusUnauthorized, "invalid_client"},
		{"confidential_without_secret", gt.Request{Form: url.Values{"client_id": {gt.ConfidentialClientID}}}, http.StatusUnauthorized, "invalid_client"},
		{"client_without_device_grant", gt.Request{BasicUser: gt.NoDeviceClientID, BasicPassword: gt.ConfidentialSecret},
			http.StatusBadRequest, "unauthorized_client"},
		{"scope_not_allowed", gt.Request{Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid admin"}}},
			http.StatusBadRequest, "invalid_scope"},
		{"audience_not_allowed", gt.Request{Form: url.Values{"client_id": {gt.PublicClientID}, "audience": {"https://evil.example"}}},
			http.StatusBadRequest, "invalid_request"},
		{"no_client", gt.Request{Form: url.Values{"scope": {"openid"}}}, http.StatusBadRequest, "invalid_request"},
		{"malformed_body", gt.Request{RawBody: public + "&scope=%zz"}, http.StatusBadRequest, "invalid_request"},
		{"repeated_parameter", gt.Request{RawBody: public + "&scope=openid&scope=profile"}, http.StatusBadRequest, "invalid_request"},
		{"repeated_client_id", gt.Request{RawBody: public + "&" + public}, http.StatusBadRequest, "invalid_request"},
		{"oversized_body", gt.Request{RawBody: public + "&pad=" + strings.Repeat("x", rfc6749.MaxFormBytes)}, http.StatusBadRequest, "invalid_request"},
		{"get", gt.Request{Method: http.MethodGet}, http.StatusBadRequest, "invalid_request"},
		{"json_body", gt.Request{ContentType: "application/json", RawBody: `{"client_id":"device-public"}`}, http.StatusBadRequest, "invalid_request"},
		{"no_content_type", gt.Request{ContentType: "-", RawBody: public}, http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			tc.req.Path = gt.DevicePath
			res := s.Do(t, tc.req)
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.code, res.Error(t))
			require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
			require.NotContains(t, string(res.Body), gt.ConfidentialSecret)
			gt.Golden(t, "device_authorization_"+tc.name, res, nil)
		})
	}
}

// zerosThen reads n zero bytes (which crypto/rand.Int turns into the first alphabet character, so user
// code BBBBBBBB), then from r.
func zerosThen(n int64, r io.Reader) io.Reader {
	return io.MultiReader(io.LimitReader(zeroReader{}, n), r)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUserCodeCollision: user codes are unique while valid (RFC 8628 §3.2). A collision with a live code is
// retried with a new code; a collision with an expired code is no collision.
func TestUserCodeCollision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("retried", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, func(o *rfc8628.Options) { o.Rand = zerosThen(16, rand.Reader) }) // BBBBBBBB twice, then random
		first := s.StartDevice(t, gt.PublicClientID, "")
		require.Equal(t, "BBBB-BBBB", first.UserCode)
		second := s.StartDevice(t, gt.PublicClientID, "")
		require.NotEqual(t, first.UserCode, second.UserCode)

		a, err := s.Device.Verifier.Lookup(ctx, first.UserCode, pending.Caller{Address: "192.0.2.1"})
		require.NoError(t, err)
		require.Equal(t, grantOf(t, s, first).Request.GetID(), a.RequestID, "the first code still finds the first request")
	})

	t.Run("code space exhausted is server_error", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, func(o *rfc8628.Options) { o.Rand = zeroReader{} })
		s.StartDevice(t, gt.PublicClientID, "")
		res := s.Do(t, gt.Request{Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}}})
		require.Equal(t, http.StatusInternalServerError, res.Status, "body: %s", res.Body)
		require.Equal(t, "server_error", res.Error(t))
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	})

	t.Run("an expired code may be reissued", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, func(o *rfc8628.Options) { o.Rand = zeroReader{} })
		first := s.StartDevice(t, gt.PublicClientID, "")
		s.Clock.Advance(10 * time.Minute)
		second := s.StartDevice(t, gt.PublicClientID, "")
		require.Equal(t, first.UserCode, second.UserCode)
		a, err := s.Device.Verifier.Lookup(ctx, second.UserCode, pending.Caller{Address: "192.0.2.1"})
		require.NoError(t, err)
		require.Equal(t, grantOf(t, s, second).Request.GetID(), a.RequestID, "the code finds the live request")
		requireError(t, s.Poll(t, gt.PublicClientID, first.DeviceCode), http.StatusBadRequest, "expired_token")
	})
}

func TestDeviceAuthorizationConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		configure    func(*rfc8628.Options)
		wantExpires  int64
		wantInterval int64
		wantUserCode *regexp.Regexp
	}{
		{"digits", func(c *rfc8628.Options) { c.UserCodeFormat = pending.UserCodeDigits },
			600, 5, regexp.MustCompile(`^[0-9]{3}-[0-9]{3}-[0-9]{3}$`)},
		{"lifespan and interval", func(c *rfc8628.Options) {
			c.CodeLifespan = 30 * time.Minute
			c.PollingInterval = 8 * time.Second
		}, 1800, 8, userCodePattern},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, tc.configure)
			d := s.StartDevice(t, gt.PublicClientID, "")
			require.Equal(t, tc.wantExpires, d.ExpiresIn)
			require.Equal(t, tc.wantInterval, d.Interval)
			require.Regexp(t, tc.wantUserCode, d.UserCode)
			_, err := s.Device.Verifier.Lookup(context.Background(), d.UserCode, pending.Caller{Address: "192.0.2.1"})
			require.NoError(t, err)
		})
	}
}

// TestDeviceAuthorizationNeedsVerificationURI: verification_uri is REQUIRED (RFC 8628 §3.2); a server
// without one configured must not start handing out codes nobody can enter.
func TestDeviceAuthorizationNeedsVerificationURI(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	_, err := rfc8628.New(s.Config, s.Store, pending.TokenStrategies{}, rfc8628.Options{})
	require.ErrorContains(t, err, "VerificationURI is required")
}

// TestDeviceAuthorizationBasicFailureChallenges: RFC 6749 §5.2 — when the client attempted to
// authenticate with the Authorization header, the 401 response MUST include WWW-Authenticate.
func TestDeviceAuthorizationBasicFailureChallenges(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	res := s.Do(t, gt.Request{Path: gt.DevicePath, BasicUser: gt.ConfidentialClientID, BasicPassword: "wrong"})
	require.Equal(t, http.StatusUnauthorized, res.Status)
	require.True(t, strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic"), res.Header.Get("WWW-Authenticate"))
}
