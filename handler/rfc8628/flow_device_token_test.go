package rfc8628_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
)

// requireError checks an RFC 6749 §5.2 error response of the token endpoint.
func requireError(t *testing.T, res *gt.Response, status int, code string) {
	t.Helper()
	require.Equal(t, status, res.Status, "body: %s", res.Body)
	require.Equal(t, code, res.Error(t), "body: %s", res.Body)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	require.NotContains(t, res.JSON(t), "access_token")
}

// TestPollingInterval drives the polling clock through RFC 8628 §3.5: authorization_pending while the
// user has not acted, slow_down when a poll comes sooner than the interval, and after a slow_down an
// interval 5 seconds longer "for this and all subsequent requests".
func TestPollingInterval(t *testing.T) {
	t.Parallel()
	const pendingCode, slowDown = "authorization_pending", "slow_down"
	type poll struct {
		after time.Duration // clock advance before the poll
		want  string
	}
	for _, tc := range []struct {
		name  string
		polls []poll
	}{
		{"first poll at issuance is pending", []poll{{0, pendingCode}}},
		{"first poll later is pending", []poll{{time.Minute, pendingCode}}},
		{"polls at the interval are pending", []poll{{0, pendingCode}, {5 * time.Second, pendingCode}, {5 * time.Second, pendingCode}}},
		{"a poll sooner than the interval is slow_down", []poll{{0, pendingCode}, {time.Second, slowDown}}},
		{"a poll just before the interval is slow_down", []poll{{0, pendingCode}, {5*time.Second - time.Millisecond, slowDown}}},
		{"two polls at the same instant", []poll{{0, pendingCode}, {0, slowDown}}},
		{"after slow_down the old interval is too soon", []poll{{0, pendingCode}, {time.Second, slowDown}, {6 * time.Second, slowDown}}},
		{"after slow_down the raised interval is enough", []poll{{0, pendingCode}, {time.Second, slowDown}, {10 * time.Second, pendingCode}}},
		{"the raised interval holds for later polls", []poll{{0, pendingCode}, {time.Second, slowDown}, {10 * time.Second, pendingCode}, {9 * time.Second, slowDown}}},
		{"each slow_down adds 5 seconds", []poll{{0, pendingCode}, {time.Second, slowDown}, {6 * time.Second, slowDown},
			{14 * time.Second, slowDown}, {20 * time.Second, pendingCode}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			d := s.StartDevice(t, gt.PublicClientID, "openid")
			for i, p := range tc.polls {
				s.Clock.Advance(p.after)
				res := s.Poll(t, gt.PublicClientID, d.DeviceCode)
				require.Equal(t, http.StatusBadRequest, res.Status, "poll %d: %s", i, res.Body)
				require.Equal(t, p.want, res.Error(t), "poll %d", i)
			}
		})
	}

	t.Run("golden", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "openid")
		res := s.Poll(t, gt.PublicClientID, d.DeviceCode)
		requireError(t, res, http.StatusBadRequest, pendingCode)
		gt.Golden(t, "token_authorization_pending", res, nil)
		res = s.Poll(t, gt.PublicClientID, d.DeviceCode)
		requireError(t, res, http.StatusBadRequest, slowDown)
		gt.Golden(t, "token_slow_down", res, nil)
	})
}

// tokenResponse is a successful access token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

func requireTokens(t *testing.T, res *gt.Response) *tokenResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	var tr tokenResponse
	require.NoError(t, json.Unmarshal(res.Body, &tr))
	require.NotEmpty(t, tr.AccessToken)
	require.Equal(t, "bearer", tr.TokenType)
	return &tr
}

// requireIDToken verifies the ID token's RS256 signature with the server's key and returns its claims.
func requireIDToken(t *testing.T, s *gt.Server, token string) map[string]interface{} {
	t.Helper()
	jws, err := jose.ParseSigned(token)
	require.NoError(t, err)
	require.Len(t, jws.Signatures, 1)
	require.Equal(t, string(jose.RS256), jws.Signatures[0].Header.Algorithm)
	payload, err := jws.Verify(&s.Key.PublicKey)
	require.NoError(t, err)
	var claims map[string]interface{}
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}

// approveAndRedeem runs a device flow to the tokens: the client asks for scope, the user grants granted
// (nil: everything asked), and the client's first poll after that gets the tokens.
func approveAndRedeem(t *testing.T, s *gt.Server, clientID, scope string, granted ...string) (*gt.DeviceResponse, *tokenResponse, *gt.Response) {
	t.Helper()
	d := s.StartDevice(t, clientID, scope)
	requireError(t, s.Poll(t, clientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
	s.Approve(t, d.UserCode, "alice", granted...)
	s.Clock.Advance(5 * time.Second)
	res := s.Poll(t, clientID, d.DeviceCode)
	return d, requireTokens(t, res), res
}

func TestRedemption(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		client      string
		scope       string
		granted     []string
		wantScope   string
		wantRefresh bool
		wantID      bool
	}{
		{name: "openid and offline_access", client: gt.PublicClientID, scope: "openid offline_access profile",
			wantScope: "openid offline_access profile", wantRefresh: true, wantID: true},
		{name: "offline_access without openid", client: gt.PublicClientID, scope: "offline_access photos",
			wantScope: "offline_access photos", wantRefresh: true},
		{name: "offline also asks for a refresh token", client: gt.PublicClientID, scope: "offline",
			wantScope: "offline", wantRefresh: true},
		{name: "openid without offline_access", client: gt.PublicClientID, scope: "openid",
			wantScope: "openid", wantID: true},
		{name: "no scope", client: gt.PublicClientID},
		{name: "client without refresh_token grant", client: gt.NoRefreshClientID, scope: "openid offline_access",
			wantScope: "openid offline_access", wantID: true},
		{name: "user grants less than asked", client: gt.PublicClientID, scope: "openid offline_access photos",
			granted: []string{"photos"}, wantScope: "photos"},
		{name: "user grants openid only", client: gt.PublicClientID, scope: "openid offline_access",
			granted: []string{"openid"}, wantScope: "openid", wantID: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			_, tr, _ := approveAndRedeem(t, s, tc.client, tc.scope, tc.granted...)
			require.ElementsMatch(t, strings.Fields(tc.wantScope), strings.Fields(tr.Scope))
			require.EqualValues(t, 3600, tr.ExpiresIn)
			require.Equal(t, tc.wantRefresh, tr.RefreshToken != "", "refresh token")
			require.Equal(t, tc.wantID, tr.IDToken != "", "ID token")

			ctx := context.Background()
			_, ar, err := s.Provider.IntrospectToken(ctx, tr.AccessToken, fosite.AccessToken, openid.NewDefaultSession())
			require.NoError(t, err, "the access token introspects active")
			require.Equal(t, tc.client, ar.GetClient().GetID())
			require.Equal(t, "alice", ar.GetSession().GetSubject())

			if tc.wantID {
				claims := requireIDToken(t, s, tr.IDToken)
				require.Equal(t, "alice", claims["sub"])
				require.Equal(t, gt.Issuer, claims["iss"])
				require.Contains(t, claims["aud"], tc.client)
				require.NotEmpty(t, claims["at_hash"])
			}
		})
	}

	t.Run("confidential client polls with Basic", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		res := s.Do(t, gt.Request{Path: gt.DevicePath, BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret,
			Form: url.Values{"scope": {"openid offline_access"}}})
		d := requireDeviceResponse(t, res)
		s.Approve(t, d.UserCode, "bob")
		poll := gt.Request{Path: gt.TokenPath, BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret,
			Form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.DeviceCode}}}
		tr := requireTokens(t, s.Do(t, poll))
		require.NotEmpty(t, tr.RefreshToken)
		require.Equal(t, "bob", requireIDToken(t, s, tr.IDToken)["sub"])
	})

	t.Run("golden", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		_, tr, res := approveAndRedeem(t, s, gt.PublicClientID, "openid offline_access")
		gt.Golden(t, "token_success", res, map[string]string{
			tr.AccessToken: "<access_token>", tr.RefreshToken: "<refresh_token>", tr.IDToken: "<id_token>",
		})
	})
}

// TestReplay checks that a device code works once (RFC 8628 §3.5, RFC 6749 §10.5): a second redemption is
// invalid_grant and revokes what the first one issued.
func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := gt.New(t, nil)
	d, tr, _ := approveAndRedeem(t, s, gt.PublicClientID, "openid offline_access")
	require.NotEmpty(t, tr.RefreshToken)

	s.Clock.Advance(5 * time.Second)
	res := s.Poll(t, gt.PublicClientID, d.DeviceCode)
	requireError(t, res, http.StatusBadRequest, "invalid_grant")
	gt.Golden(t, "token_replayed", res, nil)

	_, _, err := s.Provider.IntrospectToken(ctx, tr.AccessToken, fosite.AccessToken, openid.NewDefaultSession())
	require.Error(t, err, "the first access token is revoked")

	refresh := s.Do(t, gt.Request{Path: gt.TokenPath, Form: url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {gt.PublicClientID},
	}})
	requireError(t, refresh, http.StatusBadRequest, "invalid_grant")

	s.Clock.Advance(time.Hour)
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "invalid_grant")
}

// TestConcurrentRedemption: of many simultaneous redemptions of one approved device code, exactly one
// gets tokens.
func TestConcurrentRedemption(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
	s.Approve(t, d.UserCode, "alice")

	const n = 16
	var wg sync.WaitGroup
	results := make([]*gt.Response, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = s.RoundTrip(pollRequestTo(gt.PublicClientID, d.DeviceCode))
		}(i)
	}
	wg.Wait()
	ok := 0
	for i, res := range results {
		require.NoError(t, errs[i])
		if res.Status == http.StatusOK {
			ok++
			continue
		}
		require.Equal(t, http.StatusBadRequest, res.Status, "body: %s", res.Body)
		require.Equal(t, "invalid_grant", res.Error(t))
	}
	require.Equal(t, 1, ok)
}

func TestRefreshIssuedToken(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	_, tr, _ := approveAndRedeem(t, s, gt.PublicClientID, "openid offline_access")
	res := s.Do(t, gt.Request{Path: gt.TokenPath, Form: url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {gt.PublicClientID},
	}})
	refreshed := requireTokens(t, res)
	require.NotEqual(t, tr.AccessToken, refreshed.AccessToken)
	require.NotEmpty(t, refreshed.RefreshToken)
	require.NotEqual(t, tr.RefreshToken, refreshed.RefreshToken)
	require.Equal(t, "alice", requireIDToken(t, s, refreshed.IDToken)["sub"])
	_, _, err := s.Provider.IntrospectToken(context.Background(), refreshed.AccessToken, fosite.AccessToken, openid.NewDefaultSession())
	require.NoError(t, err)

	t.Run("another client cannot use it", func(t *testing.T) {
		res := s.Do(t, gt.Request{Path: gt.TokenPath, BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret,
			Form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshed.RefreshToken}}})
		requireError(t, res, http.StatusBadRequest, "invalid_grant")
	})
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	deviceGrant := "urn:ietf:params:oauth:grant-type:device_code"
	for _, tc := range []struct {
		name string
		// setup runs the flow up to the poll and returns the poll request.
		setup  func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request
		status int
		code   string
	}{
		{"access_denied", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			_, err := s.Device.Verifier.Deny(context.Background(), d.UserCode, pending.Caller{Address: "192.0.2.1"}, "alice", "")
			require.NoError(t, err)
			return pollRequest(gt.PublicClientID, d.DeviceCode)
		}, http.StatusBadRequest, "access_denied"},
		{"expired_token", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			s.Clock.Advance(10 * time.Minute)
			return pollRequest(gt.PublicClientID, d.DeviceCode)
		}, http.StatusBadRequest, "expired_token"},
		{"expired_after_polling", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			for i := 0; i < 10; i++ {
				requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
				s.Clock.Advance(time.Minute)
			}
			return pollRequest(gt.PublicClientID, d.DeviceCode)
		}, http.StatusBadRequest, "expired_token"},
		{"expired_after_approval", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			s.Approve(t, d.UserCode, "alice")
			s.Clock.Advance(10 * time.Minute)
			return pollRequest(gt.PublicClientID, d.DeviceCode)
		}, http.StatusBadRequest, "expired_token"},
		{"expired_after_denial", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			_, err := s.Device.Verifier.Deny(context.Background(), d.UserCode, pending.Caller{Address: "192.0.2.1"}, "", "")
			require.NoError(t, err)
			s.Clock.Advance(10 * time.Minute)
			return pollRequest(gt.PublicClientID, d.DeviceCode)
		}, http.StatusBadRequest, "expired_token"},
		{"other_client", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return pollRequest(gt.NoRefreshClientID, d.DeviceCode)
		}, http.StatusBadRequest, "invalid_grant"},
		{"other_client_approved", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			s.Approve(t, d.UserCode, "alice")
			return gt.Request{BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret,
				Form: url.Values{"grant_type": {deviceGrant}, "device_code": {d.DeviceCode}}}
		}, http.StatusBadRequest, "invalid_grant"},
		{"garbage_device_code", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return pollRequest(gt.PublicClientID, "garbage")
		}, http.StatusBadRequest, "invalid_grant"},
		{"tampered_device_code", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return pollRequest(gt.PublicClientID, tamper(d.DeviceCode))
		}, http.StatusBadRequest, "invalid_grant"},
		{"unknown_device_code", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			// Well formed and signed with this server's secret, but never issued.
			code, _, err := s.Codes().NewHandle(context.Background())
			require.NoError(t, err)
			return pollRequest(gt.PublicClientID, code)
		}, http.StatusBadRequest, "invalid_grant"},
		{"missing_device_code", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return pollRequest(gt.PublicClientID, "")
		}, http.StatusBadRequest, "invalid_request"},
		{"repeated_device_code", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			form := gt.PollForm(gt.PublicClientID, d.DeviceCode)
			form.Add("device_code", d.DeviceCode)
			return gt.Request{Form: form}
		}, http.StatusBadRequest, "invalid_request"},
		{"unsupported_grant_type", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return gt.Request{Form: url.Values{"grant_type": {"urn:example:unknown"}, "client_id": {gt.PublicClientID}}}
		}, http.StatusBadRequest, "unsupported_grant_type"},
		{"client_without_device_grant", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return gt.Request{BasicUser: gt.NoDeviceClientID, BasicPassword: gt.ConfidentialSecret,
				Form: url.Values{"grant_type": {deviceGrant}, "device_code": {d.DeviceCode}}}
		}, http.StatusBadRequest, "unauthorized_client"},
		{"confidential_client_without_secret", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return pollRequest(gt.ConfidentialClientID, d.DeviceCode)
		}, http.StatusUnauthorized, "invalid_client"},
		{"unknown_client", func(t *testing.T, s *gt.Server, d *gt.DeviceResponse) gt.Request {
			return pollRequest("nobody", d.DeviceCode)
		}, http.StatusUnauthorized, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
			req := tc.setup(t, s, d)
			req.Path = gt.TokenPath
			res := s.Do(t, req)
			requireError(t, res, tc.status, tc.code)
			require.NotContains(t, string(res.Body), d.DeviceCode, "the device code is never echoed")
			gt.Golden(t, "token_"+tc.name, res, nil)
		})
	}
}

// TestOtherClientCannotBurnCode: a poll by another client with a stolen device code neither redeems nor
// consumes it; the owner still gets the tokens.
func TestOtherClientCannotBurnCode(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	s.Approve(t, d.UserCode, "alice")
	requireError(t, s.Poll(t, gt.NoRefreshClientID, d.DeviceCode), http.StatusBadRequest, "invalid_grant")
	requireTokens(t, s.Poll(t, gt.PublicClientID, d.DeviceCode))
}

// TestDeniedStaysDenied: access_denied is final, however often the client polls.
func TestDeniedStaysDenied(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	_, err := s.Device.Verifier.Deny(context.Background(), d.UserCode, pending.Caller{Address: "192.0.2.1"}, "alice", "")
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "access_denied")
		s.Clock.Advance(time.Second)
	}
	g := grantOf(t, s, d)
	require.Equal(t, pending.StateDenied, g.State)
	require.Equal(t, "alice", g.Subject)
}

func pollRequest(clientID, deviceCode string) gt.Request {
	return gt.Request{Form: gt.PollForm(clientID, deviceCode)}
}

func grantOf(t *testing.T, s *gt.Server, d *gt.DeviceResponse) *pending.Grant {
	t.Helper()
	ctx := context.Background()
	sig, err := s.Codes().HandleSignature(ctx, d.DeviceCode)
	require.NoError(t, err)
	g, err := s.Store.GetPendingGrant(ctx, pending.KindDeviceCode, sig, nil)
	require.NoError(t, err)
	return g
}

func pollRequestTo(clientID, deviceCode string) gt.Request {
	r := pollRequest(clientID, deviceCode)
	r.Path = gt.TokenPath
	return r
}

// tamper changes the first character of s.
func tamper(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestSigningFailureDoesNotBurnGrant: tokens are minted and signed before the grant is consumed, so a
// failure to sign the ID token answers server_error and leaves the grant to be redeemed later.
func TestSigningFailureDoesNotBurnGrant(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	broken.Store(true)
	key := gt.Key(t)
	s := gt.NewWith(t, gt.Options{SigningKey: func(context.Context) (interface{}, error) {
		if broken.Load() {
			return nil, errors.New("the key store is down")
		}
		return key, nil
	}})
	d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
	s.Approve(t, d.UserCode, "alice")

	res := s.Poll(t, gt.PublicClientID, d.DeviceCode)
	requireError(t, res, http.StatusInternalServerError, "server_error")
	require.NotContains(t, string(res.Body), "key store", "internal errors stay internal")
	require.Equal(t, pending.StateApproved, grantOf(t, s, d).State)
	require.Empty(t, s.Store.AccessTokens, "nothing was stored")

	broken.Store(false)
	tr := requireTokens(t, s.Poll(t, gt.PublicClientID, d.DeviceCode))
	require.Equal(t, "alice", requireIDToken(t, s, tr.IDToken)["sub"])
	require.Equal(t, pending.StateConsumed, grantOf(t, s, d).State)
}

// TestReplayAfterRefresh: replay revocation goes by the grant's request ID, so it also reaches the tokens
// a refresh rotated in.
func TestReplayAfterRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := gt.New(t, nil)
	d, tr, _ := approveAndRedeem(t, s, gt.PublicClientID, "openid offline_access")
	refreshForm := func(token string) gt.Request {
		return gt.Request{Path: gt.TokenPath, Form: url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {gt.PublicClientID},
		}}
	}
	refreshed := requireTokens(t, s.Do(t, refreshForm(tr.RefreshToken)))

	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "invalid_grant")

	_, _, err := s.Provider.IntrospectToken(ctx, refreshed.AccessToken, fosite.AccessToken, openid.NewDefaultSession())
	require.Error(t, err, "the refreshed access token is revoked")
	requireError(t, s.Do(t, refreshForm(refreshed.RefreshToken)), http.StatusBadRequest, "invalid_grant")
}
