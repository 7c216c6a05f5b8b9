package integration

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/observe/metrics"
	"github.com/fosite-contrib/grants/observe/tracing"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// BenchmarkObservedPoll measures what observing costs a pending device poll through the example's
// router on SQLite: nothing observed, Prometheus metrics, and metrics with every span recorded by the
// OpenTelemetry SDK (always sampled, exported to nowhere).
//
//	go test -run x -bench ObservedPoll -benchmem ./integration/
func BenchmarkObservedPoll(b *testing.B) {
	for _, c := range []struct {
		name string
		obs  func(b *testing.B) observe.Observer
	}{
		{"none", func(*testing.B) observe.Observer { return nil }},
		{"metrics", func(b *testing.B) observe.Observer {
			m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return m
		}},
		{"metrics+traces", func(b *testing.B) observe.Observer {
			m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
			if err != nil {
				b.Fatal(err)
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			return observe.Multi(m, tracing.New(tp))
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			obs := c.obs(b)
			var opts []sqlstore.Option
			if obs != nil {
				opts = append(opts, sqlstore.WithObserver(obs))
			}
			s, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			clk := &clock{t: nowUTC()}
			srv, err := server.New(context.Background(), server.Options{Issuer: "http://bench.local", AdminToken: adminToken,
				Now: clk.Now, DevicePollingInterval: time.Second, Store: s, Observer: obs})
			if err != nil {
				b.Fatal(err)
			}
			da := deviceAuth(b, srv)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i > 0 && i%500 == 0 {
					b.StopTimer()
					da = deviceAuth(b, srv)
					b.StartTimer()
				}
				clk.Add(time.Second)
				code, body := serve(srv, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
					"client_id": {"demo-device"}, "device_code": {da["device_code"]}}, "")
				if code != http.StatusBadRequest || !strings.Contains(body, "authorization_pending") {
					b.Fatalf("poll: %d %s", code, body)
				}
			}
		})
	}
}
