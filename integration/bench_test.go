package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fosite-contrib/grants/example/server"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// Benchmarks of the device grant's hot paths through the example server's router, in process (no
// network), for each store. PostgreSQL runs when GRANTS_TEST_POSTGRES_DSN is set.
//
//	go test -run x -bench . -benchmem ./integration/
func BenchmarkDeviceGrant(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) server.Store
	}{
		{"memory", func(*testing.B) server.Store { return nil }},
		{"sqlite", func(b *testing.B) server.Store {
			s, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}
	if dsn := os.Getenv("GRANTS_TEST_POSTGRES_DSN"); dsn != "" {
		stores = append(stores, struct {
			name string
			open func(b *testing.B) server.Store
		}{"postgres", func(b *testing.B) server.Store {
			s, err := sqlstore.Open(context.Background(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}})
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			c := &clock{}
			c.t = nowUTC()
			opts := server.Options{Issuer: "http://bench.local", AdminToken: adminToken, Now: c.Now, DevicePollingInterval: time.Second}
			if s := st.open(b); s != nil {
				opts.Store = s
			}
			srv, err := server.New(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("authorization", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					deviceAuth(b, srv)
				}
			})
			b.Run("pending-poll", func(b *testing.B) {
				da := deviceAuth(b, srv)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if i > 0 && i%500 == 0 {
						b.StopTimer()
						da = deviceAuth(b, srv) // a code lives 10 minutes of the injected clock
						b.StartTimer()
					}
					c.Add(time.Second) // each poll is on time
					code, body := serve(srv, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
						"client_id": {"demo-device"}, "device_code": {da["device_code"]}}, "")
					if code != http.StatusBadRequest || !strings.Contains(body, "authorization_pending") {
						b.Fatalf("poll: %d %s", code, body)
					}
				}
			})
			b.Run("redemption", func(b *testing.B) {
				codes := make([]string, b.N)
				for i := range codes {
					da := deviceAuth(b, srv)
					code, body := serve(srv, "/admin/device/approve", url.Values{"user_code": {da["user_code"]}, "subject": {"alice"}, "scope": {"profile"}}, "Bearer "+adminToken)
					if code != http.StatusOK {
						b.Fatalf("approve: %d %s", code, body)
					}
					codes[i] = da["device_code"]
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					code, body := serve(srv, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
						"client_id": {"demo-device"}, "device_code": {codes[i]}}, "")
					if code != http.StatusOK {
						b.Fatalf("redeem: %d %s", code, body)
					}
				}
			})
		})
	}
}

func serve(h http.Handler, path string, form url.Values, auth string) (int, string) {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

func deviceAuth(b *testing.B, h http.Handler) map[string]string {
	code, body := serve(h, "/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"profile"}}, "")
	if code != http.StatusOK {
		b.Fatalf("device auth: %d %s", code, body)
	}
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		b.Fatal(err)
	}
	return map[string]string{"device_code": fmt.Sprint(m["device_code"]), "user_code": fmt.Sprint(m["user_code"])}
}
