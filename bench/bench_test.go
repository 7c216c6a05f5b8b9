package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	example "github.com/fosite-contrib/grants/example/server"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// In-process benchmarks of the scenarios the load benchmark drives, through the example server's router
// on the memory store, for profiling (no network, no second process):
//
//	go test -run x -bench . -benchmem -cpuprofile cpu.out ./bench && go tool pprof -top cpu.out

const (
	benchAdmin  = "bench-admin-token"
	deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
)

type benchClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *benchClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *benchClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newBenchServer builds the example server on the memory store, or on SQLite when GRANTS_BENCH_STORE
// is "sqlite", or on PostgreSQL when it is "postgres" (GRANTS_TEST_POSTGRES_DSN); with
// GRANTS_BENCH_CLIENT_CACHE=off the SQL store reads every client from the database.
func newBenchServer(tb testing.TB) (*example.Server, *benchClock) {
	c := &benchClock{t: time.Now().UTC()}
	opts := example.Options{Issuer: "http://bench.local", AdminToken: benchAdmin, Now: c.Now}
	var dsn string
	switch os.Getenv("GRANTS_BENCH_STORE") {
	case "sqlite":
		dsn = filepath.Join(tb.TempDir(), "bench.db")
	case "postgres":
		if dsn = os.Getenv("GRANTS_TEST_POSTGRES_DSN"); dsn == "" {
			tb.Skip("GRANTS_TEST_POSTGRES_DSN is not set")
		}
	}
	if dsn != "" {
		var so []sqlstore.Option
		if os.Getenv("GRANTS_BENCH_CLIENT_CACHE") == "off" {
			so = append(so, sqlstore.WithClientCache(0))
		}
		st, err := sqlstore.Open(context.Background(), dsn, so...)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = st.Close() })
		opts.Store = st
	}
	srv, err := example.New(context.Background(), benchOptions(opts))
	if err != nil {
		tb.Fatal(err)
	}
	return srv, c
}

// cpuNS returns the CPU time (user+system) the process used so far, in nanoseconds. Per-op CPU time is
// less disturbed by other processes on a busy machine than wall time.
func cpuNS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// startCPU resets the benchmark timer and returns the CPU time at the start of the measured loop.
func startCPU(b *testing.B) int64 {
	b.ReportAllocs()
	b.ResetTimer()
	return cpuNS()
}

// reportCPU reports the CPU time per op since start (cpu-ns/op), set-up excluded.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuNS()-start)/float64(b.N), "cpu-ns/op")
}

var confBasic = basicHeader("demo-confidential", "demo-secret")

func serve(tb testing.TB, h http.Handler, path, auth, body string, want int) []byte {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if want != 0 && rec.Code != want {
		tb.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes()
}

func benchDeviceCode(tb testing.TB, h http.Handler, public bool, scope string) (device, user string) {
	form := url.Values{"scope": {scope}}
	auth := confBasic
	if public {
		form.Set("client_id", "demo-device")
		auth = ""
	}
	var m struct{ DeviceCode, UserCode string }
	b := serve(tb, h, "/oauth2/device/auth", auth, form.Encode(), 200)
	var raw map[string]interface{}
	if err := json.Unmarshal(b, &raw); err != nil {
		tb.Fatal(err)
	}
	m.DeviceCode, _ = raw["device_code"].(string)
	m.UserCode, _ = raw["user_code"].(string)
	return m.DeviceCode, m.UserCode
}

func BenchmarkDeviceAuthorization(b *testing.B) {
	srv, _ := newBenchServer(b)
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		serve(b, srv, "/oauth2/device/auth", confBasic, "scope=openid", 200)
	}
	reportCPU(b, cpu)
}

// benchPoll polls one pending code per 500 polls, each poll on time (the clock moves one interval), so
// every answer is authorization_pending.
func benchPoll(b *testing.B, public bool) {
	srv, clock := newBenchServer(b)
	auth := confBasic
	newBody := func() string {
		dc, _ := benchDeviceCode(b, srv, public, "openid")
		f := url.Values{"grant_type": {deviceGrant}, "device_code": {dc}}
		if public {
			f.Set("client_id", "demo-device")
		}
		return f.Encode()
	}
	if public {
		auth = ""
	}
	body := newBody()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if i > 0 && i%100 == 0 {
			b.StopTimer()
			body = newBody()
			b.StartTimer()
		}
		clock.Add(5 * time.Second)
		serve(b, srv, "/oauth2/token", auth, body, 400)
	}
	reportCPU(b, cpu)
}

func BenchmarkPollPublic(b *testing.B)       { benchPoll(b, true) }
func BenchmarkPollConfidential(b *testing.B) { benchPoll(b, false) }

// BenchmarkPollSlowDown hammers one code: every answer after the first is slow_down.
func BenchmarkPollSlowDown(b *testing.B) {
	srv, _ := newBenchServer(b)
	dc, _ := benchDeviceCode(b, srv, true, "openid")
	body := url.Values{"grant_type": {deviceGrant}, "device_code": {dc}, "client_id": {"demo-device"}}.Encode()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		serve(b, srv, "/oauth2/token", "", body, 400)
	}
	reportCPU(b, cpu)
}

func BenchmarkClientCredentials(b *testing.B) {
	srv, _ := newBenchServer(b)
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		serve(b, srv, "/oauth2/token", confBasic, "grant_type=client_credentials", 200)
	}
	reportCPU(b, cpu)
}

// BenchmarkRedeem redeems approved codes (scope profile: an access token, as client_credentials issues),
// approved for a subject with no alert address, so that no alert e-mail is delivered meanwhile.
func BenchmarkRedeem(b *testing.B) {
	srv, _ := newBenchServer(b)
	bodies := make([]string, b.N)
	for i := range bodies {
		dc, uc := benchDeviceCode(b, srv, false, "profile")
		serve(b, srv, "/admin/device/approve", "Bearer "+benchAdmin, url.Values{"user_code": {uc}, "subject": {benchSubject}}.Encode(), 200)
		bodies[i] = url.Values{"grant_type": {deviceGrant}, "device_code": {dc}}.Encode()
	}
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		serve(b, srv, "/oauth2/token", confBasic, bodies[i], 200)
	}
	reportCPU(b, cpu)
}

var cibaBasic = basicHeader("demo-ciba-poll", "demo-ciba-secret")

// BenchmarkCIBAAuthentication is the CIBA authentication request (CIBA Core §7.1) for alice, whose
// demo authentication device is her mailbox: each request also queues an e-mail in the dev outbox.
func BenchmarkCIBAAuthentication(b *testing.B) { benchCIBAAuthentication(b, "alice") }

// BenchmarkCIBAAuthenticationInApp is the same request for carol, whose demo authentication device is
// the /ciba page: nothing is sent (like the peer's "+manual" hint).
func BenchmarkCIBAAuthenticationInApp(b *testing.B) { benchCIBAAuthentication(b, "carol") }

func benchCIBAAuthentication(b *testing.B, loginHint string) {
	srv, _ := newBenchServer(b)
	body := url.Values{"scope": {"openid"}, "login_hint": {loginHint}}.Encode()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		serve(b, srv, "/oauth2/bc-authorize", cibaBasic, body, 200)
	}
	reportCPU(b, cpu)
}

// BenchmarkCIBAPoll polls pending auth_req_ids on time (authorization_pending), a new one every 100.
func BenchmarkCIBAPoll(b *testing.B) {
	srv, clock := newBenchServer(b)
	newBody := func() string {
		var m map[string]interface{}
		if err := json.Unmarshal(serve(b, srv, "/oauth2/bc-authorize", cibaBasic, "scope=openid&login_hint=alice", 200), &m); err != nil {
			b.Fatal(err)
		}
		id, _ := m["auth_req_id"].(string)
		return url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {id}}.Encode()
	}
	body := newBody()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if i > 0 && i%100 == 0 {
			b.StopTimer()
			body = newBody()
			b.StartTimer()
		}
		clock.Add(5 * time.Second)
		serve(b, srv, "/oauth2/token", cibaBasic, body, 400)
	}
	reportCPU(b, cpu)
}

// BenchmarkRedeemVsClientCredentials measures issue 18's redemption target on the memory store: the CPU
// of a device-code redemption (scope profile: one access token) against fosite's own client_credentials
// grant (one access token), same server, same process. The two alternate in rounds, so that a busy
// machine's drift hits both alike, and each round's CPU time (the whole process: what the request
// leaves to background goroutines, such as the audit log's signature, included) is charged to its kind.
// It reports cc-cpu-ns/op, redeem-cpu-ns/op and their ratio, redeem/cc.
//
// c=16 is the server under load (the load benchmark's -c 16): the audit log's group commit shares one
// signature among the redemptions that arrive together. c=1 is one request at a time, the worst case
// of any group commit: every redemption signs its audit batch alone.
func BenchmarkRedeemVsClientCredentials(b *testing.B) {
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) {
			srv, _ := newBenchServer(b)
			const rounds = 10
			n := max(1, (b.N+rounds-1)/rounds)
			var ccCPU, redeemCPU int64
			b.ReportAllocs()
			b.ResetTimer()
			for r := 0; r < rounds; r++ {
				b.StopTimer()
				bodies := make([]string, n)
				for i := range bodies {
					dc, uc := benchDeviceCode(b, srv, false, "profile")
					serve(b, srv, "/admin/device/approve", "Bearer "+benchAdmin, url.Values{"user_code": {uc}, "subject": {benchSubject}}.Encode(), 200)
					bodies[i] = url.Values{"grant_type": {deviceGrant}, "device_code": {dc}}.Encode()
				}
				runtime.GC()
				b.StartTimer()

				start := cpuNS()
				inParallel(conc, n, func(int) {
					serve(b, srv, "/oauth2/token", confBasic, "grant_type=client_credentials", 200)
				})
				mid := cpuNS()
				inParallel(conc, n, func(i int) {
					serve(b, srv, "/oauth2/token", confBasic, bodies[i], 200)
				})
				ccCPU, redeemCPU = ccCPU+mid-start, redeemCPU+cpuNS()-mid
			}
			b.StopTimer()
			ops := float64(n * rounds)
			b.ReportMetric(float64(ccCPU)/ops, "cc-cpu-ns/op")
			b.ReportMetric(float64(redeemCPU)/ops, "redeem-cpu-ns/op")
			b.ReportMetric(float64(redeemCPU)/float64(ccCPU), "redeem/cc")
		})
	}
}

// inParallel calls fn(0), ..., fn(n-1) from conc goroutines and returns when all have returned.
func inParallel(conc, n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}
