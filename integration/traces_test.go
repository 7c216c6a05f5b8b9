package integration

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/observe/tracing"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// spans indexes the spans an in-memory exporter holds.
type spans []tracetest.SpanStub

func (s spans) named(t *testing.T, name string, in trace.TraceID) []tracetest.SpanStub {
	t.Helper()
	var out []tracetest.SpanStub
	for _, sp := range s {
		if sp.Name == name && (!in.IsValid() || sp.SpanContext.TraceID() == in) {
			out = append(out, sp)
		}
	}
	return out
}

func (s spans) byID(id trace.SpanID) (tracetest.SpanStub, bool) {
	for _, sp := range s {
		if sp.SpanContext.SpanID() == id {
			return sp, true
		}
	}
	return tracetest.SpanStub{}, false
}

// ancestors returns the names of sp's ancestors, nearest first.
func (s spans) ancestors(sp tracetest.SpanStub) []string {
	var names []string
	for sp.Parent.IsValid() {
		p, ok := s.byID(sp.Parent.SpanID())
		if !ok {
			break
		}
		names = append(names, p.Name)
		sp = p
	}
	return names
}

func attr(sp tracetest.SpanStub, key attribute.Key) string {
	for _, kv := range sp.Attributes {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// TestTraces: with a tracer, a device poll is a server span "POST /oauth2/token" holding the
// request's ID, fosite's own span beneath it, the grant step "device_code poll" beneath that, and the
// step's database calls beneath the step; the approval's audit event names the same request ID.
func TestTraces(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	obs := tracing.New(tp)
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"), sqlstore.WithObserver(obs))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := start(t, func(o *server.Options) { o.Store, o.Observer = store, obs })

	status, auth := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", auth)
	status, header, body := e.postFrom(http.DefaultClient, "/oauth2/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {"demo-device"}, "device_code": {auth["device_code"].(string)},
	}, http.Header{observe.HeaderRequestID: {"poll-0001"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "authorization_pending", body["error"])
	require.Equal(t, "poll-0001", header.Get(observe.HeaderRequestID), "a sane incoming ID is kept")

	all := spans(exp.GetSpans())
	servers := all.named(t, "POST /oauth2/token", trace.TraceID{})
	require.Len(t, servers, 1)
	srv := servers[0]
	require.Equal(t, trace.SpanKindServer, srv.SpanKind)
	require.Equal(t, "poll-0001", attr(srv, tracing.AttrRequestID))
	require.Equal(t, "400", attr(srv, "http.response.status_code"))

	polls := all.named(t, "device_code poll", srv.SpanContext.TraceID())
	require.Len(t, polls, 1)
	poll := polls[0]
	require.Equal(t, "authorization_pending", attr(poll, tracing.AttrOutcome))
	require.Equal(t, []string{"Fosite.NewAccessRequest", "POST /oauth2/token"}, all.ancestors(poll))

	var calls []string
	for _, sp := range all {
		if sp.Parent.SpanID() == poll.SpanContext.SpanID() {
			calls = append(calls, sp.Name)
			require.Equal(t, trace.SpanKindClient, sp.SpanKind)
			require.Equal(t, "sqlite", attr(sp, "db.system.name"))
		}
	}
	// The poll records itself and reads its grant in one store call (pending.PollStorage): on SQLite the
	// conditional UPDATE and then the read of the row, in one transaction of the writer — not a read
	// first and a write after it.
	var onGrants []string
	for _, c := range calls {
		if strings.HasSuffix(c, " pending_grants") {
			onGrants = append(onGrants, c)
		}
	}
	require.Equal(t, []string{"update pending_grants", "select pending_grants"}, onGrants, "the poll records itself, then reads the row; calls: %v", calls)

	// The approval's audit event carries the request ID the approval's trace and log lines carry.
	status, header, body = e.postFrom(http.DefaultClient, "/admin/device/approve", url.Values{"user_code": {auth["user_code"].(string)}, "subject": {"alice"}},
		http.Header{"Authorization": {"Bearer " + adminToken}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	id := header.Get(observe.HeaderRequestID)
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Len(t, all.named(t, "device_code decide", trace.TraceID{}), 0)
	decides := spans(exp.GetSpans()).named(t, "device_code decide", trace.TraceID{})
	require.Len(t, decides, 1)
	require.Equal(t, id, attr(decides[0], tracing.AttrRequestID))
	require.Equal(t, "approved", attr(decides[0], tracing.AttrOutcome))

	recs, err := store.ListAuditRecords(context.Background(), 0, 100)
	require.NoError(t, err)
	var found bool
	for _, r := range recs {
		payload := r.Token
		if parts := strings.Split(r.Token, "."); len(parts) == 3 { // the signed record of a batch
			b, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err)
			payload = string(b)
		}
		if strings.Contains(payload, "pending/approved") {
			require.Contains(t, payload, `"http_request_id":"`+id+`"`)
			found = true
		}
	}
	require.True(t, found, "no approval in the audit log")
}
