package pending_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe/metrics"
	"github.com/fosite-contrib/grants/storage/memory"
)

// TestLimiterReportsRefusals: each refusal is reported with the limiter's scope and the counter that
// was full; allowed attempts are not.
func TestLimiterReportsRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		limits  pending.Limits
		who     pending.Caller
		counter string
	}{
		{"per address", pending.Limits{PerAddress: 2, Global: 100, Window: time.Minute}, pending.Caller{Address: "192.0.2.1"}, "address"},
		{"all anonymous callers", pending.Limits{PerAddress: 100, Global: 2, Window: time.Minute}, pending.Caller{Address: "192.0.2.1"}, "global"},
		{"per account", pending.Limits{PerAccount: 2, GlobalSignedIn: 100, Window: time.Minute}, pending.Caller{Account: "alice"}, "account"},
		{"all signed-in callers", pending.Limits{PerAccount: 100, GlobalSignedIn: 2, Window: time.Minute}, pending.Caller{Account: "alice"}, "global-signed-in"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := metrics.New(reg, metrics.Options{})
			require.NoError(t, err)
			l := &pending.Limiter{Storage: memory.New(), Scope: "device-user-code", Limits: c.limits, Observer: m}
			for range 2 {
				require.NoError(t, l.Allow(ctx, c.who, now))
				require.NoError(t, l.Fail(ctx, c.who, now))
			}
			require.Equal(t, 0, testutil.CollectAndCount(reg, "grants_limiter_refusals_total"))
			require.ErrorIs(t, l.Allow(ctx, c.who, now), pending.ErrTooManyAttempts)
			require.ErrorIs(t, l.Allow(ctx, c.who, now), pending.ErrTooManyAttempts)
			require.Equal(t, 1, testutil.CollectAndCount(reg, "grants_limiter_refusals_total"))
			require.Equal(t, 2.0, refusals(t, reg, "device-user-code", c.counter))
		})
	}
}

// refusals returns the value of grants_limiter_refusals_total{limiter, counter}.
func refusals(t *testing.T, reg *prometheus.Registry, limiter, counter string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "grants_limiter_refusals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["limiter"] == limiter && labels["counter"] == counter {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
