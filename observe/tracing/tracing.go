package tracing

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fosite-contrib/grants/observe"
)

// InstrumentationName names the tracer this package asks its TracerProvider for.
const InstrumentationName = "github.com/fosite-contrib/grants"

// Attribute keys this package sets besides OpenTelemetry's semantic conventions.
const (
	AttrGrant     = attribute.Key("grants.grant")
	AttrEndpoint  = attribute.Key("grants.endpoint")
	AttrStep      = attribute.Key("grants.step")
	AttrOutcome   = attribute.Key("grants.outcome")
	AttrLimiter   = attribute.Key("grants.limiter")
	AttrCounter   = attribute.Key("grants.counter")
	AttrKind      = attribute.Key("grants.outbox.kind")
	AttrRequestID = attribute.Key(observe.LogKeyRequestID)
)

// Tracer is an observe.Observer that makes OpenTelemetry spans: one per HTTP request (a server span),
// per grant step and per store call (children of the span in their context), per outbox delivery
// attempt; a limiter's refusal is an event on the current span. Audit batches are not traced (they
// serve many requests at once; see the metrics). Make one with New; it is safe for concurrent use.
//
// Spans carry no user, code, token or secret: grant kinds, steps, outcomes (error codes), route
// patterns, status codes, statement names, and the request ID.
type Tracer struct {
	tracer trace.Tracer
}

var _ observe.Observer = (*Tracer)(nil)

// New returns a Tracer whose spans go to tp; a nil tp traces nothing.
//
// fosite v0.49.0 starts its own spans (Fosite.NewAccessRequest, …) with the TracerProvider of the span
// in the request's context, so with a Tracer in an observe.Handler they join the same traces.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Tracer{tracer: tp.Tracer(InstrumentationName)}
}

// failed reports whether a step's outcome is the server's failure, which marks its span as an error:
// the OAuth answers a client gets (authorization_pending, invalid_grant, …) are not.
func failed(outcome string) bool {
	return outcome == "server_error" || outcome == observe.OutcomeOtherError
}

// GrantStep implements observe.Grants: a span "<grant> <step>", such as "device_code poll".
func (t *Tracer) GrantStep(ctx context.Context, grant string, step observe.Step) (context.Context, func(string)) {
	attrs := []attribute.KeyValue{AttrGrant.String(grant), AttrStep.String(string(step))}
	if id := observe.RequestID(ctx); id != "" {
		attrs = append(attrs, AttrRequestID.String(id))
	}
	ctx, span := t.tracer.Start(ctx, grant+" "+string(step), trace.WithAttributes(attrs...))
	return ctx, func(outcome string) {
		span.SetAttributes(AttrOutcome.String(outcome))
		if failed(outcome) {
			span.SetStatus(codes.Error, outcome)
		}
		span.End()
	}
}

// StoreCall implements observe.Store: a client span named after the operation ("select
// pending_grants"), with the database semantic conventions.
func (t *Tracer) StoreCall(ctx context.Context, system, operation string) (context.Context, func(error)) {
	verb, table, _ := strings.Cut(operation, " ")
	attrs := []attribute.KeyValue{attribute.String("db.system.name", system), attribute.String("db.operation.name", verb)}
	if table != "" {
		attrs = append(attrs, attribute.String("db.collection.name", table))
	}
	ctx, span := t.tracer.Start(ctx, operation, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			// The error's text is left out: a driver may quote a value in it.
			span.SetStatus(codes.Error, "database call failed")
		}
		span.End()
	}
}

// HTTPRequest implements observe.HTTP: a server span named after the method and the route pattern
// ("POST /oauth2/token"), with the request ID. Trace context in the request's headers is not trusted:
// each request starts a trace of its own.
func (t *Tracer) HTTPRequest(ctx context.Context, method string) (context.Context, func(string, int)) {
	attrs := []attribute.KeyValue{attribute.String("http.request.method", method)}
	if id := observe.RequestID(ctx); id != "" {
		attrs = append(attrs, AttrRequestID.String(id))
	}
	ctx, span := t.tracer.Start(ctx, method, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	return ctx, func(route string, status int) {
		if route != "" {
			// A pattern may start with its method ("POST /login"); the span name has it once.
			if _, path, ok := strings.Cut(route, " "); ok {
				route = path
			}
			span.SetName(method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// Request implements observe.Requests: the endpoint, the grant and the outcome become attributes of
// the span in ctx (the request's server span), so a refused request (a bad DPoP proof, a failed client
// authentication) says why without a span of its own.
func (t *Tracer) Request(ctx context.Context, endpoint observe.Endpoint, grant, outcome string) {
	trace.SpanFromContext(ctx).SetAttributes(AttrEndpoint.String(string(endpoint)), AttrGrant.String(grant), AttrOutcome.String(outcome))
}

// LimitRefused implements observe.Limits: an event "limit refused" on the span in ctx.
func (t *Tracer) LimitRefused(ctx context.Context, limiter, counter string) {
	trace.SpanFromContext(ctx).AddEvent("limit refused", trace.WithAttributes(AttrLimiter.String(limiter), AttrCounter.String(counter)))
}

// OutboxAttempt implements observe.Outbox: a span "outbox delivery" covering the attempt.
func (t *Tracer) OutboxAttempt(ctx context.Context, kind, outcome string, took time.Duration) {
	end := time.Now()
	_, span := t.tracer.Start(ctx, "outbox delivery", trace.WithTimestamp(end.Add(-took)), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(AttrKind.String(kind), AttrOutcome.String(outcome)))
	if outcome == "failed" {
		span.SetStatus(codes.Error, "delivery failed")
	}
	span.End(trace.WithTimestamp(end))
}

// AuditBatch implements observe.Audit; it traces nothing.
func (t *Tracer) AuditBatch(int, time.Duration, error) {}
