package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/observe"
)

// What operators see of the server (issue 19): every request gets an ID (the X-Request-Id it came
// with, when it is a sane one, else a new one), which its log lines, its trace and the audit events it
// records carry as http_request_id; Options.Observer (metrics, traces; see package observe) is told
// about every request, grant step, limiter refusal, outbox attempt and audit batch; and one log line per
// request says how it went (debug level; errors of the server at error level). Metrics, traces and the
// health probes are served on a listener of their own (see example/ops.go).

// opsState is what the server keeps for its operators.
type opsState struct {
	// observer is Options.Observer and the request log, never nil.
	observer observe.Observer
	// handler gives requests their IDs and tells observer, then serves them.
	handler http.Handler
}

// setupOps makes the observer of the server and the handler in front of its router.
func (s *Server) setupOps() {
	s.ops.observer = observe.Multi(s.opts.Observer, requestLog{log: s.log})
	s.ops.handler = &observe.Handler{
		Next:     http.HandlerFunc(s.serve),
		Observer: s.ops.observer,
		// An ID a reverse proxy (or a client) sent is kept, so that its logs and ours line up; it is
		// checked (observe.ValidRequestID) and otherwise replaced.
		TrustRequestID: true,
	}
}

// The grants' options with the server's observer.
func (s *Server) observedDevice(o rfc8628.Options) rfc8628.Options {
	o.Observer = s.ops.observer
	return o
}
func (s *Server) observedCIBA(o ciba.Options) ciba.Options { o.Observer = s.ops.observer; return o }
func (s *Server) observedOTP(o otp.Options) otp.Options    { o.Observer = s.ops.observer; return o }

// tokenObserved tells the observer how a token request ended (*err nil: tokens were issued), by its
// grant type's label and the outcome's code: never a client ID, a proof, a key or a token.
func (s *Server) tokenObserved(ctx context.Context, r *http.Request, err *error) {
	observe.Report(ctx, s.ops.observer, observe.EndpointToken, observe.GrantTypeLabel(r.PostForm.Get("grant_type")), *err)
}

// requestLog writes one line per request: at debug level, or at error level for a 5xx.
type requestLog struct {
	observe.Nop
	log *slog.Logger
}

func (l requestLog) HTTPRequest(ctx context.Context, method string) (context.Context, func(string, int)) {
	start := time.Now()
	return ctx, func(route string, status int) {
		level := slog.LevelDebug
		if status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		if !l.log.Enabled(ctx, level) {
			return
		}
		l.log.LogAttrs(ctx, level, "request", slog.String("method", method), slog.String("route", route),
			slog.Int("status", status), slog.Duration("took", time.Since(start)))
	}
}

// OpsHandler serves the operations endpoints, for a listener apart from the public one: /metrics (the
// registry's metrics, Prometheus text format), /healthz (the process serves) and /readyz (the store
// answers and, for the SQL store, has every migration; the memory store is always ready).
func OpsHandler(reg *prometheus.Registry, store Store) http.Handler {
	h := &observe.Health{}
	if r, ok := store.(interface{ CheckReady(context.Context) error }); ok {
		h.Checks = append(h.Checks, observe.Check{Name: "store", Run: r.CheckReady})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", h.Live)
	mux.HandleFunc("GET /readyz", h.Ready)
	return mux
}
