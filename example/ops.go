package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/observe/metrics"
	"github.com/fosite-contrib/grants/observe/tracing"
)

// defaultOpsAddr is where metrics and the health probes are served unless -ops-addr says otherwise.
const defaultOpsAddr = "127.0.0.1:9090"

// newLogger makes the server's logger: text or JSON lines on w, each with the request ID of the
// request it was logged in (http_request_id).
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf(`-log-format %q: use "text" or "json"`, format)
	}
	return slog.New(observe.LogHandler(h)), nil
}

// telemetry is what the server reports to its operators: Prometheus metrics in a registry of its own,
// and traces when OpenTelemetry is configured by the environment.
type telemetry struct {
	registry *prometheus.Registry
	observer observe.Observer
	// tracing tells whether traces are exported.
	tracing bool
	// shutdown flushes and stops the trace exporter; never nil.
	shutdown func(context.Context) error
}

// newTelemetry makes the metrics and, when the environment asks for it (tracerProviderFromEnv), the
// trace exporter.
func newTelemetry(ctx context.Context) (*telemetry, error) {
	t := &telemetry{registry: prometheus.NewRegistry(), shutdown: func(context.Context) error { return nil }}
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(t.registry, metrics.Options{})
	if err != nil {
		return nil, err
	}
	tp, shutdown, err := tracerProviderFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	if tp == nil {
		t.observer = m
		return t, nil
	}
	t.tracing, t.shutdown = true, shutdown
	t.observer = observe.Multi(m, tracing.New(tp))
	return t, nil
}

// watchStore adds the store's gauges (live grants, outbox backlog) to the metrics when the store can
// report them.
func (t *telemetry) watchStore(store server.Store) {
	opts := metrics.StoreOptions{}
	opts.Grants, _ = store.(observe.GrantCounter)
	opts.Outbox, _ = store.(observe.BacklogCounter)
	if opts.Grants != nil || opts.Outbox != nil {
		t.registry.MustRegister(metrics.StoreGauges(opts))
	}
}

// tracesEnabled reports whether the standard OpenTelemetry environment asks for traces: an OTLP
// endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
// OTEL_TRACES_EXPORTER is "otlp"; and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none
// turns them off. Traces are off by default.
func tracesEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false
	case "otlp":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// tracerProviderFromEnv returns an OpenTelemetry SDK tracer provider exporting over OTLP/HTTP as the
// standard OTEL_* environment variables say (endpoint, headers, timeout, TLS; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES; OTEL_TRACES_SAMPLER), or nil when traces are not asked for.
func tracerProviderFromEnv(ctx context.Context) (trace.TracerProvider, func(context.Context) error, error) {
	if !tracesEnabled(os.Getenv) {
		return nil, nil, nil
	}
	proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, nil, fmt.Errorf("OTLP protocol %q: this server exports traces over http/protobuf only", proto)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "grants-example")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// serveOps serves h on addr until the returned function is called. When addr is the default and is
// taken (a second example server on this machine), it returns nil and a nil error: the server runs
// without its operations listener.
func serveOps(addr string, h http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) && addr == defaultOpsAddr {
		log.Warn("operations listener not started: its address is taken; choose another with -ops-addr", "addr", addr)
		return func() {}, nil
	} else if err != nil {
		return nil, fmt.Errorf("-ops-addr %q: %w", addr, err)
	}
	if host, _, _ := net.SplitHostPort(addr); host != "localhost" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			log.Warn("the operations listener is not on a loopback address: keep it off the public network", "addr", ln.Addr().String())
		}
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("operations listening", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return func() { _ = hs.Close() }, nil
}
