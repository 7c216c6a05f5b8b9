package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fosite-contrib/grants/observe"
)

// DefaultNamespace prefixes every metric name when Options.Namespace is empty.
const DefaultNamespace = "grants"

// DefaultScrapeTimeout bounds the store queries of one scrape when Options.ScrapeTimeout is zero.
const DefaultScrapeTimeout = 2 * time.Second

// Options configure Metrics.
type Options struct {
	// Namespace prefixes every metric name; empty means DefaultNamespace.
	Namespace string
}

// StoreOptions configure StoreGauges.
type StoreOptions struct {
	// Namespace prefixes every metric name; empty means DefaultNamespace.
	Namespace string
	// Grants, when set, is asked at each scrape how many grants are live (the pending_grants gauge).
	Grants observe.GrantCounter
	// Outbox, when set, is asked at each scrape for the outbox backlog (the outbox_backlog_messages and
	// outbox_oldest_message_age_seconds gauges).
	Outbox observe.BacklogCounter
	// ScrapeTimeout bounds the store queries of one scrape; zero means DefaultScrapeTimeout.
	ScrapeTimeout time.Duration
	// Now is the clock of the grant count and the backlog's age; nil means time.Now.
	Now func() time.Time
}

// Metrics is an observe.Observer that keeps Prometheus metrics. Make one with New; it is safe for
// concurrent use. The metric names and labels are listed in the package documentation.
type Metrics struct {
	steps            *prometheus.CounterVec
	endpointRequests *prometheus.CounterVec
	stepDuration     *prometheus.HistogramVec
	polls            *prometheus.CounterVec
	decisions        *prometheus.CounterVec
	refusals         *prometheus.CounterVec
	outbox           *prometheus.CounterVec
	outboxTime       *prometheus.HistogramVec
	auditSize        prometheus.Histogram
	auditTime        prometheus.Histogram
	auditFailed      prometheus.Counter
	storeTime        *prometheus.HistogramVec
	storeErrors      *prometheus.CounterVec
	requests         *prometheus.CounterVec
	requestTime      *prometheus.HistogramVec
}

var _ observe.Observer = (*Metrics)(nil)

// New makes the metrics and registers them with reg (a *prometheus.Registry of your own, or
// prometheus.DefaultRegisterer). It fails when a metric of the same name is registered already.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	// Latencies from a tenth of a millisecond (a memory store) to ten seconds.
	latency := prometheus.ExponentialBucketsRange(0.0001, 10, 16)
	m := &Metrics{
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "grant_steps_total",
			Help: "Steps of pending grants by grant kind, step and outcome (ok, approved, denied, or the OAuth error code)."},
			[]string{"grant", "step", "outcome"}),
		endpointRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Requests of the token, device authorization, backchannel authentication and OTP challenge endpoints by endpoint, grant and outcome (ok, or the OAuth error code answered: invalid_client, invalid_grant, invalid_dpop_proof, …)."},
			[]string{"endpoint", "grant", "outcome"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "grant_step_duration_seconds",
			Help: "How long steps of pending grants took, store calls included.", Buckets: latency},
			[]string{"grant", "step"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "polls_total",
			Help: "Token requests polling a pending grant, by grant kind and answer (authorization_pending, slow_down, ok, expired_token, access_denied, invalid_grant, …)."},
			[]string{"grant", "answer"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "decisions_total",
			Help: "Approvals and denials recorded, by grant kind."},
			[]string{"grant", "decision"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "limiter_refusals_total",
			Help: "Attempts a limiter refused, by limiter and the counter that was full."},
			[]string{"limiter", "counter"}),
		outbox: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "outbox_attempts_total",
			Help: "Outbox delivery attempts by message kind and outcome (delivered, retry, failed)."},
			[]string{"kind", "outcome"}),
		outboxTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "outbox_attempt_duration_seconds",
			Help: "How long outbox delivery attempts took, by message kind.", Buckets: latency},
			[]string{"kind"}),
		auditSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "audit_batch_events",
			Help: "Events sealed by one signature of the audit log (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 9)}),
		auditTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "audit_batch_duration_seconds",
			Help: "How long appending one audit batch took: signing and storing, retries included.", Buckets: latency}),
		auditFailed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "audit_batch_failures_total",
			Help: "Audit batches that could not be appended (their events were not recorded)."}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "store_call_duration_seconds",
			Help: "How long database calls of the store took, by database and operation (verb and table).", Buckets: latency},
			[]string{"system", "operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "store_call_errors_total",
			Help: "Database calls of the store that failed, by database and operation."},
			[]string{"system", "operation"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."},
			[]string{"route", "method", "code"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
			Help: "How long HTTP requests took, by route pattern and method.", Buckets: latency},
			[]string{"route", "method"}),
	}
	cs := []prometheus.Collector{m.steps, m.endpointRequests, m.stepDuration, m.polls, m.decisions, m.refusals, m.outbox, m.outboxTime,
		m.auditSize, m.auditTime, m.auditFailed, m.storeTime, m.storeErrors, m.requests, m.requestTime}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// GrantStep implements observe.Grants.
func (m *Metrics) GrantStep(ctx context.Context, grant string, step observe.Step) (context.Context, func(string)) {
	start := time.Now()
	return ctx, func(outcome string) {
		m.steps.WithLabelValues(grant, string(step), outcome).Inc()
		m.stepDuration.WithLabelValues(grant, string(step)).Observe(time.Since(start).Seconds())
		switch {
		case step == observe.StepPoll:
			m.polls.WithLabelValues(grant, outcome).Inc()
		case step == observe.StepDecide && (outcome == observe.OutcomeApproved || outcome == observe.OutcomeDenied):
			m.decisions.WithLabelValues(grant, outcome).Inc()
		}
	}
}

// Request implements observe.Requests.
func (m *Metrics) Request(_ context.Context, endpoint observe.Endpoint, grant, outcome string) {
	m.endpointRequests.WithLabelValues(string(endpoint), grant, outcome).Inc()
}

// LimitRefused implements observe.Limits.
func (m *Metrics) LimitRefused(_ context.Context, limiter, counter string) {
	m.refusals.WithLabelValues(limiter, counter).Inc()
}

// OutboxAttempt implements observe.Outbox.
func (m *Metrics) OutboxAttempt(_ context.Context, kind, outcome string, took time.Duration) {
	m.outbox.WithLabelValues(kind, outcome).Inc()
	m.outboxTime.WithLabelValues(kind).Observe(took.Seconds())
}

// AuditBatch implements observe.Audit.
func (m *Metrics) AuditBatch(events int, took time.Duration, err error) {
	if err != nil {
		m.auditFailed.Inc()
		return
	}
	m.auditSize.Observe(float64(events))
	m.auditTime.Observe(took.Seconds())
}

// StoreCall implements observe.Store.
func (m *Metrics) StoreCall(ctx context.Context, system, operation string) (context.Context, func(error)) {
	start := time.Now()
	return ctx, func(err error) {
		m.storeTime.WithLabelValues(system, operation).Observe(time.Since(start).Seconds())
		if err != nil {
			m.storeErrors.WithLabelValues(system, operation).Inc()
		}
	}
}

// HTTPRequest implements observe.HTTP.
func (m *Metrics) HTTPRequest(ctx context.Context, method string) (context.Context, func(string, int)) {
	start := time.Now()
	method = knownMethod(method)
	return ctx, func(route string, status int) {
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.requestTime.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	}
}

// knownMethod keeps the label's values few: a method a client made up is "other".
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// StoreGauges returns a collector that reads the store's gauges at each scrape: the live grants, the
// outbox backlog and its oldest message's age, and whether the store could be read. Register it with
// the registry Metrics uses. A store that cannot be read leaves its gauges out of that scrape and sets
// store_scrape_error to 1; the scrape itself succeeds.
func StoreGauges(opts StoreOptions) prometheus.Collector {
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return newStoreCollector(ns, opts)
}

// storeCollector reads the store's gauges at each scrape.
type storeCollector struct {
	opts        StoreOptions
	grants      *prometheus.Desc
	backlog     *prometheus.Desc
	oldest      *prometheus.Desc
	scrapeError *prometheus.Desc
}

func newStoreCollector(ns string, opts StoreOptions) *storeCollector {
	return &storeCollector{
		opts: opts,
		grants: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "pending_grants"),
			"Live grants (not expired) by grant kind and state: pending (waiting for a person) or approved (waiting for the client). Read from the store: the same on every instance sharing it.",
			[]string{"grant", "state"}, nil),
		backlog: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "outbox_backlog_messages"),
			"Outbox messages waiting for delivery, due or not. Read from the store: the same on every instance sharing it.", nil, nil),
		oldest: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "outbox_oldest_message_age_seconds"),
			"Age of the oldest outbox message waiting for delivery; 0 when none waits.", nil, nil),
		scrapeError: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "store_scrape_error"),
			"1 when the store could not be read for this scrape's gauges (they are then missing), else 0.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.opts.Grants != nil {
		ch <- c.grants
	}
	if c.opts.Outbox != nil {
		ch <- c.backlog
		ch <- c.oldest
	}
	ch <- c.scrapeError
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.opts.ScrapeTimeout
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	now := time.Now()
	if c.opts.Now != nil {
		now = c.opts.Now()
	}
	failed := 0.0
	if c.opts.Grants != nil {
		counts, err := c.opts.Grants.CountGrants(ctx, now)
		if err != nil {
			failed, counts = 1, nil
		}
		for _, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.grants, prometheus.GaugeValue, float64(n.Count), n.Grant, n.State)
		}
	}
	if c.opts.Outbox != nil {
		b, err := c.opts.Outbox.OutboxBacklog(ctx)
		if err != nil {
			failed = 1
		} else {
			age := 0.0
			if !b.Oldest.IsZero() && now.After(b.Oldest) {
				age = now.Sub(b.Oldest).Seconds()
			}
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(b.Messages))
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeError, prometheus.GaugeValue, failed)
}
