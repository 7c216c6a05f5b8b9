package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/observe/metrics"
)

func newMetrics(t *testing.T) (*metrics.Metrics, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	require.NoError(t, err)
	return m, reg
}

// TestLabelsStayFew: values a client chooses (a made-up method, a path no route serves) never become
// label values of their own.
func TestLabelsStayFew(t *testing.T) {
	m, reg := newMetrics(t)
	for _, method := range []string{"GET", "PROPFIND", "X-ALICE-SECRET", "BREW"} {
		_, end := m.HTTPRequest(context.Background(), method)
		end("", 404)
	}
	_, end := m.HTTPRequest(context.Background(), "POST")
	end("/oauth2/token", 400)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP grants_http_requests_total HTTP requests by route pattern, method and status code.
# TYPE grants_http_requests_total counter
grants_http_requests_total{code="400",method="POST",route="/oauth2/token"} 1
grants_http_requests_total{code="404",method="GET",route="unmatched"} 1
grants_http_requests_total{code="404",method="other",route="unmatched"} 3
`), "grants_http_requests_total"))
}

func TestGrantSteps(t *testing.T) {
	m, reg := newMetrics(t)
	for _, outcome := range []string{"authorization_pending", "slow_down", "authorization_pending"} {
		_, end := m.GrantStep(context.Background(), "device_code", observe.StepPoll)
		end(outcome)
	}
	for _, outcome := range []string{observe.OutcomeApproved, observe.OutcomeDenied, "invalid_user_code"} {
		_, end := m.GrantStep(context.Background(), "ciba", observe.StepDecide)
		end(outcome)
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP grants_polls_total Token requests polling a pending grant, by grant kind and answer (authorization_pending, slow_down, ok, expired_token, access_denied, invalid_grant, …).
# TYPE grants_polls_total counter
grants_polls_total{answer="authorization_pending",grant="device_code"} 2
grants_polls_total{answer="slow_down",grant="device_code"} 1
# HELP grants_decisions_total Approvals and denials recorded, by grant kind.
# TYPE grants_decisions_total counter
grants_decisions_total{decision="approved",grant="ciba"} 1
grants_decisions_total{decision="denied",grant="ciba"} 1
`), "grants_polls_total", "grants_decisions_total"))
	require.Equal(t, 5, testutil.CollectAndCount(reg, "grants_grant_steps_total"))
}

func TestAuditBatches(t *testing.T) {
	m, reg := newMetrics(t)
	m.AuditBatch(3, time.Millisecond, nil)
	m.AuditBatch(1, time.Millisecond, nil)
	m.AuditBatch(2, time.Second, errors.New("disk full"))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP grants_audit_batch_failures_total Audit batches that could not be appended (their events were not recorded).
# TYPE grants_audit_batch_failures_total counter
grants_audit_batch_failures_total 1
`), "grants_audit_batch_failures_total"))
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "grants_audit_batch_events" {
			h := f.GetMetric()[0].GetHistogram()
			require.Equal(t, uint64(2), h.GetSampleCount())
			require.Equal(t, 4.0, h.GetSampleSum())
		}
	}
}

// counters is a store that can be told to fail.
type counters struct{ err error }

func (c counters) CountGrants(context.Context, time.Time) ([]observe.GrantCount, error) {
	return []observe.GrantCount{{Grant: "device_code", State: "pending", Count: 7}}, c.err
}

func (c counters) OutboxBacklog(context.Context) (observe.Backlog, error) {
	return observe.Backlog{Messages: 2, Oldest: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, c.err
}

func TestStoreGauges(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 1, 30, 0, time.UTC) }
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.StoreGauges(metrics.StoreOptions{Grants: counters{}, Outbox: counters{}, Now: now}))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP grants_outbox_backlog_messages Outbox messages waiting for delivery, due or not. Read from the store: the same on every instance sharing it.
# TYPE grants_outbox_backlog_messages gauge
grants_outbox_backlog_messages 2
# HELP grants_outbox_oldest_message_age_seconds Age of the oldest outbox message waiting for delivery; 0 when none waits.
# TYPE grants_outbox_oldest_message_age_seconds gauge
grants_outbox_oldest_message_age_seconds 90
# HELP grants_store_scrape_error 1 when the store could not be read for this scrape's gauges (they are then missing), else 0.
# TYPE grants_store_scrape_error gauge
grants_store_scrape_error 0
`), "grants_outbox_backlog_messages", "grants_outbox_oldest_message_age_seconds", "grants_store_scrape_error"))

	broken := prometheus.NewRegistry()
	broken.MustRegister(metrics.StoreGauges(metrics.StoreOptions{Grants: counters{err: errors.New("down")}, Outbox: counters{err: errors.New("down")}, Now: now}))
	require.Equal(t, 0, testutil.CollectAndCount(broken, "grants_outbox_backlog_messages"))
	require.Equal(t, 0, testutil.CollectAndCount(broken, "grants_pending_grants"))
	require.Equal(t, 1.0, testutil.ToFloat64(metrics.StoreGauges(metrics.StoreOptions{Outbox: counters{err: errors.New("down")}})))
}

// TestRequests: every request of the OAuth endpoints is counted by endpoint, grant and outcome, those
// refused before a grant's steps run (a bad DPoP proof) too.
func TestRequests(t *testing.T) {
	m, reg := newMetrics(t)
	m.Request(context.Background(), observe.EndpointToken, "device_code", "invalid_dpop_proof")
	m.Request(context.Background(), observe.EndpointToken, "device_code", "invalid_dpop_proof")
	m.Request(context.Background(), observe.EndpointToken, "device_code", observe.OutcomeOK)
	m.Request(context.Background(), observe.EndpointToken, observe.GrantTypeLabel("urn:x:made-up"), "unsupported_grant_type")
	m.Request(context.Background(), observe.EndpointBackchannel, "ciba", "use_dpop_nonce")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP grants_requests_total Requests of the token, device authorization, backchannel authentication and OTP challenge endpoints by endpoint, grant and outcome (ok, or the OAuth error code answered: invalid_client, invalid_grant, invalid_dpop_proof, …).
# TYPE grants_requests_total counter
grants_requests_total{endpoint="backchannel_authentication",grant="ciba",outcome="use_dpop_nonce"} 1
grants_requests_total{endpoint="token",grant="device_code",outcome="invalid_dpop_proof"} 2
grants_requests_total{endpoint="token",grant="device_code",outcome="ok"} 1
grants_requests_total{endpoint="token",grant="other",outcome="unsupported_grant_type"} 1
`), "grants_requests_total"))
}
