package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatusKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"success", 200, `{"access_token":"x"}`, "200"},
		{"pending", 400, `{"error":"authorization_pending","error_description":"…"}`, "400 authorization_pending"},
		{"space after colon", 400, `{"error": "slow_down"}`, "400 slow_down"},
		{"indented", 401, "{\n  \"error\": \"invalid_client\"\n}", "401 invalid_client"},
		{"no error member", 500, `oops`, "500"},
		{"error not a string", 400, `{"error":42}`, "400"},
		{"unterminated", 400, `{"error":"slow`, "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, statusKey(tc.status, []byte(tc.body)))
		})
	}
}

func TestSummariseAndMedian(t *testing.T) {
	t.Parallel()
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100-i) * time.Millisecond // unsorted on purpose
	}
	r := summarise(lat, map[string]int{"200": 100}, 0, 2*time.Second, 0.5)
	require.Equal(t, 100, r.Requests)
	require.InDelta(t, 50, r.RPS, 1e-9)
	require.InDelta(t, 50, r.P50ms, 1)
	require.InDelta(t, 99, r.P99ms, 1)
	require.InDelta(t, 5000, r.CPUPerReq, 1e-6)
	require.InDelta(t, 0.25, r.ServerUtil, 1e-9)

	m := median([]result{{RPS: 3, Requests: 1, Codes: map[string]int{"200": 1}}, {RPS: 1, Requests: 1, Codes: map[string]int{"200": 1}}, {RPS: 2, Requests: 1, Codes: map[string]int{"400 x": 1}}})
	require.InDelta(t, 2, m.RPS, 1e-9)
	require.Equal(t, 3, m.Requests)
	require.Equal(t, map[string]int{"200": 2, "400 x": 1}, m.Codes)
}
