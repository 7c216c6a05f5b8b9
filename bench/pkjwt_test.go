package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func encode(f map[string][]string) string { return url.Values(f).Encode() }

// registerInProcess registers a private_key_jwt device client through the router.
func registerInProcess(tb testing.TB, h http.Handler) *pkjwtClient {
	pc, err := newPKJWTClient()
	if err != nil {
		tb.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth2/register", bytes.NewReader(pc.metadata()))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+benchAdmin)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		tb.Fatalf("register: %d %s", rec.Code, rec.Body.String())
	}
	pc.id = m["client_id"].(string)
	return pc
}

// BenchmarkPollPrivateKeyJWT polls pending codes on time as a private_key_jwt client: every poll
// carries a new signed assertion (made before the timer starts), which the server verifies (ES256)
// and whose jti it records. With the SQL store the client's key set is parsed when the client is read:
// once per TTL with the client cache, once per request without (GRANTS_BENCH_CLIENT_CACHE=off).
func BenchmarkPollPrivateKeyJWT(b *testing.B) {
	srv, clock := newBenchServer(b)
	c := registerInProcess(b, srv)
	const aud = "http://bench.local/oauth2/token"
	form := func() map[string][]string {
		f, err := c.form(aud)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	newCode := func() string {
		f := form()
		f["scope"] = []string{"openid"}
		var m map[string]any
		if err := json.Unmarshal(serve(b, srv, "/oauth2/device/auth", "", encode(f), 200), &m); err != nil {
			b.Fatal(err)
		}
		return m["device_code"].(string)
	}
	bodies := make([]string, b.N)
	code := newCode()
	for i := range bodies {
		if i > 0 && i%100 == 0 {
			code = newCode()
		}
		f := form()
		f["grant_type"] = []string{deviceGrant}
		f["device_code"] = []string{code}
		bodies[i] = encode(f)
	}
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		clock.Add(5 * time.Second)
		serve(b, srv, "/oauth2/token", "", bodies[i], 400)
	}
	reportCPU(b, cpu)
}
