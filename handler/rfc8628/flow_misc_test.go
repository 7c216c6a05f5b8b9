package rfc8628_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
)

func TestCompleteVerificationURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, uri, code, want string }{
		{"plain", "https://example.com/device", "WDJB-MJHT", "https://example.com/device?user_code=WDJB-MJHT"},
		{"keeps the query", "https://example.com/device?lang=en", "WDJB-MJHT", "https://example.com/device?lang=en&user_code=WDJB-MJHT"},
		{"replaces a configured user_code", "https://example.com/device?user_code=X", "WDJB-MJHT", "https://example.com/device?user_code=WDJB-MJHT"},
		{"keeps the fragment", "https://example.com/device#top", "WDJB-MJHT", "https://example.com/device?user_code=WDJB-MJHT#top"},
		{"trailing question mark", "https://example.com/device?", "WDJB-MJHT", "https://example.com/device?user_code=WDJB-MJHT"},
		{"escapes the code", "https://example.com/d", "A B&C", "https://example.com/d?user_code=A+B%26C"},
		{"empty", "", "WDJB-MJHT", ""},
		{"unparsable", "https://exa mple.com/%zz", "WDJB-MJHT", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, pending.CompleteVerificationURI(tc.uri, tc.code))
		})
	}
}

func TestDeviceInfoFromRequest(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 255) + "é" + "tail" // é straddles the 256-byte cut
	for _, tc := range []struct {
		name, remote, ua string
		want             pending.DeviceInfo
	}{
		{"IPv4", "192.0.2.1:5555", "tv/1.0", pending.DeviceInfo{RemoteAddr: "192.0.2.1", UserAgent: "tv/1.0"}},
		{"IPv6", "[2001:db8::1]:443", "", pending.DeviceInfo{RemoteAddr: "2001:db8::1"}},
		{"no port", "192.0.2.1", "", pending.DeviceInfo{RemoteAddr: "192.0.2.1"}},
		{"long user agent is cut to valid UTF-8", "192.0.2.1:1", long, pending.DeviceInfo{RemoteAddr: "192.0.2.1", UserAgent: strings.Repeat("a", 255)}},
		{"invalid UTF-8 dropped", "192.0.2.1:1", "tv\xff/1", pending.DeviceInfo{RemoteAddr: "192.0.2.1", UserAgent: "tv/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("User-Agent", tc.ua)
			require.Equal(t, tc.want, pending.DeviceInfoFromRequest(r))
		})
	}
}

// TestOtherClientDoesNotSlowOwner: polls by another client with a stolen device code are refused before
// any poll accounting, so they cannot push the owner into slow_down.
func TestOtherClientDoesNotSlowOwner(t *testing.T) {
	t.Parallel()
	s := gt.New(t, nil)
	d := s.StartDevice(t, gt.PublicClientID, "")
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
	for i := 0; i < 3; i++ {
		s.Clock.Advance(time.Second)
		requireError(t, s.Poll(t, gt.NoRefreshClientID, d.DeviceCode), http.StatusBadRequest, "invalid_grant")
	}
	s.Clock.Advance(2 * time.Second)
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
	require.Equal(t, 5*time.Second, grantOf(t, s, d).Interval)
}

// TestConcurrentDecisions: of simultaneous approvals and denials of one request exactly one is taken.
func TestConcurrentDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := gt.New(t, nil)
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				_, errs[i] = s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
			} else {
				_, errs[i] = s.Device.Verifier.Deny(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"}, "alice", "")
			}
		}(i)
	}
	wg.Wait()
	decided := 0
	for _, err := range errs {
		if err == nil {
			decided++
			continue
		}
		requireInvalidUserCode(t, err)
	}
	require.Equal(t, 1, decided)
	require.Contains(t, []pending.State{pending.StateApproved, pending.StateDenied}, grantOf(t, s, d).State)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of HTTP handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogging: refusals and replays are logged, pending polls are not, and no secret (client secret,
// device code, user code) ever reaches a log line.
func TestLogging(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := gt.New(t, func(c *rfc8628.Options) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})

	res := s.Do(t, gt.Request{Path: gt.DevicePath, BasicUser: gt.ConfidentialClientID, BasicPassword: "wrong " + gt.ConfidentialSecret})
	require.Equal(t, http.StatusUnauthorized, res.Status)
	require.Contains(t, logs.String(), "invalid_client")

	d := s.StartDevice(t, gt.PublicClientID, "openid")
	before := logs.String()
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "slow_down")
	require.Equal(t, before, logs.String(), "pending polls are not logged")

	a := s.Approve(t, d.UserCode, "alice")
	s.Clock.Advance(10 * time.Second)
	requireTokens(t, s.Poll(t, gt.PublicClientID, d.DeviceCode))
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "invalid_grant")
	out := logs.String()
	require.Contains(t, out, "level=WARN")
	require.Contains(t, out, "replayed")
	require.Contains(t, out, a.RequestID)
	require.Contains(t, out, gt.PublicClientID)

	require.NotContains(t, out, gt.ConfidentialSecret)
	require.NotContains(t, out, d.DeviceCode)
	require.NotContains(t, out, d.UserCode)
	require.NotContains(t, out, strings.ReplaceAll(d.UserCode, "-", ""))
}
