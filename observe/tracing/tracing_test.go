package tracing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/observe/tracing"
)

func newTracer(t *testing.T) (*tracing.Tracer, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tracing.New(tp), exp
}

// TestSpans: a request, a grant step in it and a store call in the step nest; what a client is
// answered is no error, the server's failures are.
func TestSpans(t *testing.T) {
	tr, exp := newTracer(t)
	ctx := observe.WithRequestID(context.Background(), "req-1")
	ctx, endRequest := tr.HTTPRequest(ctx, "POST")
	stepCtx, endStep := tr.GrantStep(ctx, "ciba", observe.StepRedeem)
	_, endCall := tr.StoreCall(stepCtx, "postgresql", "update pending_grants")
	endCall(errors.New(`duplicate key value (handle_signature)=(secret)`))
	_, endCall = tr.StoreCall(stepCtx, "postgresql", "commit")
	endCall(nil)
	endStep("server_error")
	tr.LimitRefused(ctx, "client-auth", "address")
	endRequest("POST /oauth2/token", 500)

	spans := exp.GetSpans()
	require.Len(t, spans, 4)
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	req, step, update, commit := byName["POST /oauth2/token"], byName["ciba redeem"], byName["update pending_grants"], byName["commit"]
	require.Equal(t, trace.SpanKindServer, req.SpanKind)
	require.Equal(t, req.SpanContext.SpanID(), step.Parent.SpanID())
	require.Equal(t, step.SpanContext.SpanID(), update.Parent.SpanID())
	require.Equal(t, step.SpanContext.SpanID(), commit.Parent.SpanID())

	require.Equal(t, codes.Error, req.Status.Code)
	require.Equal(t, codes.Error, step.Status.Code)
	require.Equal(t, codes.Error, update.Status.Code)
	require.NotContains(t, update.Status.Description, "secret", "a database error's text is left out")
	require.Empty(t, update.Events)
	require.Equal(t, codes.Unset, commit.Status.Code)
	require.Len(t, req.Events, 1)
	require.Equal(t, "limit refused", req.Events[0].Name)
}

func TestAnswersAreNoErrors(t *testing.T) {
	tr, exp := newTracer(t)
	for _, outcome := range []string{"authorization_pending", "slow_down", "invalid_grant", "access_denied", observe.OutcomeOK} {
		_, end := tr.GrantStep(context.Background(), "device_code", observe.StepPoll)
		end(outcome)
	}
	_, end := tr.HTTPRequest(context.Background(), "GET")
	end("", 404)
	tr.OutboxAttempt(context.Background(), "ciba.ping", "retry", time.Second)
	for _, s := range exp.GetSpans() {
		require.Equal(t, codes.Unset, s.Status.Code, s.Name)
	}
	tr.OutboxAttempt(context.Background(), "ciba.ping", "failed", time.Second)
	spans := exp.GetSpans()
	last := spans[len(spans)-1]
	require.Equal(t, "outbox delivery", last.Name)
	require.Equal(t, codes.Error, last.Status.Code)
	require.Equal(t, time.Second, last.EndTime.Sub(last.StartTime))
}

// TestRequestAttributes: a request's endpoint, grant and outcome land on its server span, so a refused
// request says why; the refusal of a client is no error of the server.
func TestRequestAttributes(t *testing.T) {
	tr, exp := newTracer(t)
	ctx, end := tr.HTTPRequest(context.Background(), "POST")
	tr.Request(ctx, observe.EndpointToken, "device_code", "invalid_dpop_proof")
	end("POST /oauth2/token", 400)
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	attrs := map[string]string{}
	for _, a := range spans[0].Attributes {
		attrs[string(a.Key)] = a.Value.AsString()
	}
	require.Equal(t, "token", attrs[string(tracing.AttrEndpoint)])
	require.Equal(t, "device_code", attrs[string(tracing.AttrGrant)])
	require.Equal(t, "invalid_dpop_proof", attrs[string(tracing.AttrOutcome)])
	require.Equal(t, codes.Unset, spans[0].Status.Code)
}
