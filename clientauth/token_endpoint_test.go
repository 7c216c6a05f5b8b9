package clientauth_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/internal/rfc6749/rfc6749test"
)

// TestTokenEndpointOneMethod: at fosite's token endpoint, with the Limiter as fosite's client
// authentication strategy, a request using two client authentication methods, or naming two clients,
// is refused with invalid_request (RFC 6749 §2.3) even when every credential in it is right; each
// method alone works.
func TestTokenEndpointOneMethod(t *testing.T) {
	t.Parallel()
	s := rfc6749test.New(t, func(*fosite.Fosite) map[string]http.Handler { return nil })
	const id, secret = grantstest.ConfidentialClientID, grantstest.ConfidentialSecret
	cc := url.Values{"grant_type": {"client_credentials"}}
	assertion := func() url.Values {
		return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {s.Assertion(t)}}
	}
	for _, tc := range []struct {
		name   string
		auth   func() rfc6749test.Auth
		status int
		err    string
	}{
		{"Basic", func() rfc6749test.Auth { return rfc6749test.BasicAuth(id, secret) }, 200, ""},
		{"client_secret in the body", func() rfc6749test.Auth { return rfc6749test.PostAuth(id, secret) }, 200, ""},
		{"client assertion", func() rfc6749test.Auth { return s.JWTAuth(t) }, 200, ""},
		{"Basic and client_secret", func() rfc6749test.Auth {
			return rfc6749test.Auth{Basic: []string{id, secret}, Form: url.Values{"client_secret": {secret}}}
		}, 400, "invalid_request"},
		{"Basic and client_secret with client_id", func() rfc6749test.Auth {
			return rfc6749test.Auth{Basic: []string{id, secret}, Form: url.Values{"client_id": {id}, "client_secret": {secret}}}
		}, 400, "invalid_request"},
		{"Basic and a client assertion", func() rfc6749test.Auth {
			return rfc6749test.Auth{Basic: []string{rfc6749test.JWTClientID, "x"}, Form: assertion()}
		}, 400, "invalid_request"},
		{"client_secret and a client assertion", func() rfc6749test.Auth {
			f := assertion()
			f.Set("client_secret", secret)
			return rfc6749test.Auth{Form: f}
		}, 400, "invalid_request"},
		{"Basic client differs from client_id", func() rfc6749test.Auth {
			return rfc6749test.Auth{Basic: []string{id, secret}, Form: url.Values{"client_id": {grantstest.NoDeviceClientID}}}
		}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Post(t, grantstest.TokenPath, cc, tc.auth())
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			if tc.err != "" {
				require.Equal(t, tc.err, res.Error(t))
			}
		})
	}
}

// TestTokenEndpointFlood: over HTTP, wrong secrets from one address get 401 invalid_client up to the
// limit (20 by default) and then 429 temporarily_unavailable; the right secret still gets a token from
// the same address once verified, and other clients are not affected.
func TestTokenEndpointFlood(t *testing.T) {
	t.Parallel()
	s := rfc6749test.New(t, func(*fosite.Fosite) map[string]http.Handler { return nil })
	cc := url.Values{"grant_type": {"client_credentials"}}
	s.ClientCredentials(t, rfc6749test.BasicAuth(grantstest.ConfidentialClientID, grantstest.ConfidentialSecret))
	for i := range 25 {
		res := s.Post(t, grantstest.TokenPath, cc, rfc6749test.BasicAuth(grantstest.ConfidentialClientID, fmt.Sprint("guess-", i)))
		if i < 20 {
			require.Equal(t, http.StatusUnauthorized, res.Status, "attempt %d: %s", i, res.Body)
			require.Equal(t, "invalid_client", res.Error(t))
			continue
		}
		require.Equal(t, http.StatusTooManyRequests, res.Status, "attempt %d: %s", i, res.Body)
		require.Equal(t, "temporarily_unavailable", res.Error(t))
		if i == 20 {
			grantstest.Golden(t, "too_many_failures", res, nil)
		}
	}
	s.ClientCredentials(t, rfc6749test.BasicAuth(grantstest.ConfidentialClientID, grantstest.ConfidentialSecret))
	res := s.Post(t, grantstest.TokenPath, cc, rfc6749test.PostAuth(rfc6749test.PostClientID, grantstest.ConfidentialSecret))
	require.Equal(t, http.StatusTooManyRequests, res.Status, "a secret not yet verified needs a hash, which this address may no longer have")

	// Another address (127.0.0.2: Linux routes all of 127.0.0.0/8 to loopback) is not affected.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	defer other.CloseIdleConnections()
	resp, err := other.Do(s.NewRequest(t, grantstest.TokenPath, cc, rfc6749test.PostAuth(rfc6749test.PostClientID, grantstest.ConfidentialSecret)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
