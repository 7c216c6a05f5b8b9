package rfc8628_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
)

// The benchmarks run the composed provider's HTTP handlers in process (httptest.NewRecorder, no
// network) with the in-memory store and a public client.

func serve(b *testing.B, s *gt.Server, req gt.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, s.NewHTTPRequest(b, req))
	return rec
}

func BenchmarkDeviceAuthorization(b *testing.B) {
	s := gt.NewUnstarted(b, nil)
	req := gt.Request{Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid offline_access"}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := serve(b, s, req); rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkPendingPoll(b *testing.B) {
	s := gt.NewUnstarted(b, func(c *rfc8628.Options) { c.CodeLifespan = 100 * 365 * 24 * time.Hour })
	rec := serve(b, s, gt.Request{Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid"}}})
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	d := decodeDevice(b, rec)
	req := gt.Request{Path: gt.TokenPath, Form: gt.PollForm(gt.PublicClientID, d.DeviceCode)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Clock.Advance(5 * time.Second) // poll at the interval: authorization_pending every time
		if rec := serve(b, s, req); rec.Code != http.StatusBadRequest {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkRedemption(b *testing.B) {
	for _, bc := range []struct{ name, scope string }{
		{"access+refresh", "offline_access"},
		{"access+refresh+id_token", "openid offline_access"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := gt.NewUnstarted(b, nil)
			ctx := context.Background()
			start := gt.Request{Path: gt.DevicePath, Form: url.Values{"client_id": {gt.PublicClientID}, "scope": {bc.scope}}}
			polls := make([]gt.Request, b.N)
			for i := range polls {
				d := decodeDevice(b, serve(b, s, start))
				if _, err := s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"},
					pending.Decision{Subject: "alice", Session: gt.Session("alice")}); err != nil {
					b.Fatal(err)
				}
				polls[i] = gt.Request{Path: gt.TokenPath, Form: gt.PollForm(gt.PublicClientID, d.DeviceCode)}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if rec := serve(b, s, polls[i]); rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func decodeDevice(b *testing.B, rec *httptest.ResponseRecorder) *gt.DeviceResponse {
	b.Helper()
	res := &gt.Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if res.Status != http.StatusOK {
		b.Fatalf("status %d: %s", res.Status, res.Body)
	}
	return &gt.DeviceResponse{DeviceCode: res.String(b, "device_code"), UserCode: res.String(b, "user_code")}
}
