package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/observe/metrics"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// attempts signals each outbox attempt once the observers before it in an observe.Multi have seen
// it, so a test waits for the worker instead of sleeping.
type attempts struct {
	observe.Nop
	done chan string
}

func (a attempts) OutboxAttempt(_ context.Context, kind, outcome string, _ time.Duration) {
	select {
	case a.done <- kind + " " + outcome:
	default: // nobody waits for so many: the worker must not
	}
}

// opsEnv is the example server on SQLite with its metrics, and its operations listener.
type opsEnv struct {
	*cibaEnv
	store    *sqlstore.Store
	ops      string // base URL of the operations listener
	attempts chan string
}

func startOps(t *testing.T) *opsEnv {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{})
	require.NoError(t, err)
	done := make(chan string, 64)
	obs := observe.Multi(m, attempts{done: done})
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"), sqlstore.WithObserver(obs))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := startCIBA(t, func(o *server.Options) { o.Store, o.Observer = store, obs })
	reg.MustRegister(metrics.StoreGauges(metrics.StoreOptions{Grants: store, Outbox: store, Now: e.clock.Now}))
	ops := httptest.NewServer(server.OpsHandler(reg, store))
	t.Cleanup(ops.Close)
	return &opsEnv{cibaEnv: e, store: store, ops: ops.URL, attempts: done}
}

// scrape reads /metrics over HTTP as Prometheus would.
func (e *opsEnv) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	resp, err := http.Get(e.ops + "/metrics")
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(e.t, err)
	return families
}

// value returns the value of the series of family name whose labels include want (a counter, a
// gauge, or a histogram's count), summed over the series that match; -1 when none does.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
	sum, found := 0.0, false
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		return -1
	}
	return sum
}

func (e *opsEnv) get(path string) (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.ops + path)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, string(b)
}

// TestMetricsAfterRealFlows drives a device flow, a CIBA poll, a flood of wrong client secrets and a
// CIBA ping through the example server, then scrapes its operations listener: each counter an
// operator watches has moved, and no label value holds a user, a client, a code, a token or a secret.
func TestMetricsAfterRealFlows(t *testing.T) {
	t.Parallel()
	e := startOps(t)
	secrets := []string{"alice", server.DemoConfidentialSecret, server.DemoCIBASecret, adminToken, "wrong-secret",
		"demo-device", "demo-ciba-poll", "demo-ciba-ping", "flood-target", "flood-secret"}

	// A device: it polls too soon (slow_down), the user approves, it redeems.
	status, auth := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid offline_access"}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", auth)
	deviceCode, userCode := auth["device_code"].(string), auth["user_code"].(string)
	secrets = append(secrets, deviceCode, userCode, strings.ReplaceAll(userCode, "-", ""))
	_, body := e.poll("demo-device", deviceCode)
	require.Equal(t, "authorization_pending", body["error"])
	_, body = e.poll("demo-device", deviceCode)
	require.Equal(t, "slow_down", body["error"])
	status, body = e.admin("/admin/device/approve", url.Values{"user_code": {userCode}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	e.clock.Add(time.Minute)
	status, tokens := e.poll("demo-device", deviceCode)
	require.Equal(t, http.StatusOK, status, "%v", tokens)
	secrets = append(secrets, tokens["access_token"].(string), tokens["refresh_token"].(string))

	// A call centre: CIBA in poll mode.
	id := e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	secrets = append(secrets, id)
	_, body = e.redeem("demo-ciba-poll", id)
	require.Equal(t, "authorization_pending", body["error"])
	status, body = e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {id}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	e.clock.Add(time.Minute)
	status, body = e.redeem("demo-ciba-poll", id)
	require.Equal(t, http.StatusOK, status, "%v", body)

	// Someone guessing a client's secret from one address until the limiter refuses. (The client's
	// secret is hashed at bcrypt's minimum cost, so that the failures stay quick under the race detector.)
	hash, err := (&fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}).Hash(context.Background(), []byte("flood-secret"))
	require.NoError(t, err)
	require.NoError(t, e.store.SetClient(context.Background(), &fosite.DefaultClient{ID: "flood-target", Secret: hash, GrantTypes: []string{"client_credentials"}}))
	attacker := from(t, "127.0.0.2")
	refused := false
	for i := 0; i < 25 && !refused; i++ {
		status, _, _ := e.postFrom(attacker, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
			cibaBasic("flood-target", "wrong-secret"))
		refused = status == http.StatusTooManyRequests
	}
	require.True(t, refused, "the client-auth limiter never refused")

	// A ping client: the approval queues a callback, which the outbox worker delivers.
	pingID := e.ask("demo-ciba-ping", "alice", nil)["auth_req_id"].(string)
	secrets = append(secrets, pingID)
	status, body = e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {pingID}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, pingID, e.ping.next(t).Body["auth_req_id"])
	for a := range e.attempts { // the approvals' alert e-mails may come first
		t.Log("outbox attempt:", a)
		if a == "ciba.ping delivered" {
			break
		}
	}

	f := e.scrape()
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"grants_grant_steps_total", map[string]string{"grant": "device_code", "step": "start", "outcome": "ok"}},
		{"grants_polls_total", map[string]string{"grant": "device_code", "answer": "authorization_pending"}},
		{"grants_polls_total", map[string]string{"grant": "device_code", "answer": "slow_down"}},
		{"grants_polls_total", map[string]string{"grant": "device_code", "answer": "ok"}},
		{"grants_grant_steps_total", map[string]string{"grant": "device_code", "step": "redeem", "outcome": "ok"}},
		{"grants_decisions_total", map[string]string{"grant": "device_code", "decision": "approved"}},
		{"grants_polls_total", map[string]string{"grant": "ciba", "answer": "authorization_pending"}},
		{"grants_decisions_total", map[string]string{"grant": "ciba", "decision": "approved"}},
		{"grants_grant_steps_total", map[string]string{"grant": "ciba", "step": "redeem", "outcome": "ok"}},
		{"grants_grant_step_duration_seconds", map[string]string{"grant": "ciba", "step": "poll"}},
		{"grants_limiter_refusals_total", map[string]string{"limiter": "client-auth", "counter": "address"}},
		{"grants_outbox_attempts_total", map[string]string{"kind": "ciba.ping", "outcome": "delivered"}},
		{"grants_outbox_attempt_duration_seconds", map[string]string{"kind": "ciba.ping"}},
		{"grants_audit_batch_events", nil},
		{"grants_audit_batch_duration_seconds", nil},
		{"grants_store_call_duration_seconds", map[string]string{"system": "sqlite", "operation": "update pending_grants"}},
		{"grants_store_call_duration_seconds", map[string]string{"system": "sqlite", "operation": "commit"}},
		{"grants_http_requests_total", map[string]string{"route": "/oauth2/token", "method": "POST", "code": "429"}},
		{"grants_http_requests_total", map[string]string{"route": "/oauth2/device/auth", "method": "POST", "code": "200"}},
	} {
		require.GreaterOrEqual(t, value(f, c.name, c.labels), 1.0, "%s%v", c.name, c.labels)
	}
	// Gauges read from the store: the redeemed grants are no longer live; the ping's message was delivered.
	require.Equal(t, 0.0, value(f, "grants_outbox_backlog_messages", nil))
	require.Equal(t, 0.0, value(f, "grants_outbox_oldest_message_age_seconds", nil))
	require.Equal(t, 0.0, value(f, "grants_store_scrape_error", nil))
	require.Equal(t, -1.0, value(f, "grants_pending_grants", map[string]string{"grant": "device_code"}), "a redeemed grant is not live")

	// A request that is still waiting shows as a live grant.
	e.ask("demo-ciba-poll", "bob", nil)
	require.Equal(t, 1.0, value(e.scrape(), "grants_pending_grants", map[string]string{"grant": "ciba", "state": "pending"}))

	for name, fam := range f {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range secrets {
					require.NotContains(t, l.GetValue(), s, "%s{%s=%q}", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestReadyz: the operations listener says ready while the store answers with every migration, not
// ready once a migration is missing or the store is closed, and alive all along.
func TestReadyz(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	reg.MustRegister(metrics.StoreGauges(metrics.StoreOptions{Grants: store, Outbox: store}))
	ops := httptest.NewServer(server.OpsHandler(reg, store))
	t.Cleanup(ops.Close)
	e := &opsEnv{cibaEnv: &cibaEnv{env: &env{t: t}}, store: store, ops: ops.URL}
	status, body := e.get("/readyz")
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"status":"ready"}`, body)

	// A migration the database has not applied (as after deploying a newer server without migrating).
	_, err = e.store.DB().Exec("DELETE FROM grants_schema_migrations WHERE version_id = 90")
	require.NoError(t, err)
	status, body = e.get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, `"store"`)
	require.Contains(t, body, "lacks migrations")
	require.Contains(t, body, "[90]")
	_, err = e.store.DB().Exec("INSERT INTO grants_schema_migrations (version_id, is_applied) VALUES (90, TRUE)")
	require.NoError(t, err)
	status, body = e.get("/readyz")
	require.Equal(t, http.StatusOK, status, body)

	require.NoError(t, e.store.Close())
	status, body = e.get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "unreachable")
	status, body = e.get("/healthz")
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"status":"ok"}`, body)

	// The store's gauges are missing from a scrape the store cannot answer; the scrape still works.
	f := e.scrape()
	require.Equal(t, 1.0, value(f, "grants_store_scrape_error", nil))
	require.Equal(t, -1.0, value(f, "grants_outbox_backlog_messages", nil))
}

// TestMetricsRequests: requests of the token and backchannel authentication endpoints are counted by
// endpoint, grant and outcome, including those a DPoP check refuses (at the token endpoint after the
// grant said yes, RFC 9449 §5) and grant types a client made up; no label holds the proof, its key or
// its thumbprint, a code, a token, or what the client sent as grant_type.
func TestMetricsRequests(t *testing.T) {
	t.Parallel()
	e := startOps(t)
	c := newGoClient(t)
	tokenURL := e.url + "/oauth2/token"
	code := approvedDeviceCode(t, e.env, server.DemoDPoPClientID)
	stale := c.proof(http.MethodPost, tokenURL, e.clock.Now().Add(-time.Hour))
	res := send(t, e.env, http.MethodPost, "/oauth2/token", devicePoll(server.DemoDPoPClientID, code), nil)
	require.Equal(t, "invalid_dpop_proof", res.Error(t))
	res = send(t, e.env, http.MethodPost, "/oauth2/token", devicePoll(server.DemoDPoPClientID, code), nil, stale)
	require.Equal(t, "invalid_dpop_proof", res.Error(t))
	good := c.proof(http.MethodPost, tokenURL, e.clock.Now())
	res = send(t, e.env, http.MethodPost, "/oauth2/token", devicePoll(server.DemoDPoPClientID, code), nil, good)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	accessToken := res.String(t, "access_token")
	madeUp := "urn:x:alice@example.com"
	res = send(t, e.env, http.MethodPost, "/oauth2/token", url.Values{"grant_type": {madeUp}}, basicAuth("demo-confidential", server.DemoConfidentialSecret))
	require.Equal(t, "unsupported_grant_type", res.Error(t))
	res = send(t, e.env, http.MethodPost, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth("demo-confidential", "wrong-secret"))
	require.Equal(t, "invalid_client", res.Error(t))
	// A backchannel request whose DPoP proof was made for another endpoint.
	misdirected := c.proof(http.MethodPost, tokenURL, e.clock.Now())
	res = send(t, e.env, http.MethodPost, "/oauth2/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"alice"}},
		cibaBasic("demo-ciba-poll", server.DemoCIBASecret), misdirected)
	require.Equal(t, "invalid_dpop_proof", res.Error(t))
	e.ask("demo-ciba-poll", "alice", nil)

	f := e.scrape()
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"endpoint": "token", "grant": "device_code", "outcome": "invalid_dpop_proof"}, 2},
		{map[string]string{"endpoint": "token", "grant": "device_code", "outcome": "ok"}, 1},
		{map[string]string{"endpoint": "token", "grant": "other", "outcome": "unsupported_grant_type"}, 1},
		{map[string]string{"endpoint": "token", "grant": "client_credentials", "outcome": "invalid_client"}, 1},
		{map[string]string{"endpoint": "device_authorization", "grant": "device_code", "outcome": "ok"}, 1},
		{map[string]string{"endpoint": "backchannel_authentication", "grant": "ciba", "outcome": "invalid_dpop_proof"}, 1},
		{map[string]string{"endpoint": "backchannel_authentication", "grant": "ciba", "outcome": "ok"}, 1},
	} {
		require.Equal(t, c.want, value(f, "grants_requests_total", c.labels), "%v", c.labels)
	}
	secrets := []string{code, stale, good, misdirected, c.jkt, accessToken, madeUp, "alice", server.DemoConfidentialSecret, "wrong-secret"}
	for name, fam := range f {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range secrets {
					require.NotContains(t, l.GetValue(), s, "%s{%s=%q}", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}
