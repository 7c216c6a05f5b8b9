package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
)

// pkjwtClient is a device client that registered itself with a P-256 key and authenticates with
// private_key_jwt (RFC 7523 §2.2), as the kiosk-onboarded phones of seed 001 do.
type pkjwtClient struct {
	id     string
	signer jose.Signer
}

func registerPKJWT(tb testing.TB, h http.Handler) *pkjwtClient {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]any{
		"grant_types":                []string{deviceGrant},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig"}}},
		"scope":                      "openid",
	})
	req := httptest.NewRequest(http.MethodPost, "/oauth2/register", bytes.NewReader(meta))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+benchAdmin)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		tb.Fatalf("register: %d %s", rec.Code, rec.Body.String())
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &pkjwtClient{id: m["client_id"].(string), signer: signer}
}

// auth returns the client authentication parameters with a new assertion (a new jti each time).
func (c *pkjwtClient) auth(tb testing.TB) url.Values {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	raw, err := jwt.Signed(c.signer).Claims(jwt.Claims{
		Issuer: c.id, Subject: c.id, Audience: jwt.Audience{"http://bench.local/oauth2/token"}, ID: hex.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {raw}}
}

// BenchmarkPollPrivateKeyJWT polls pending codes on time as a private_key_jwt client: every poll
// carries a new signed assertion (made before the timer starts), which the server verifies (ES256)
// and whose jti it records. The key set is parsed when the client is read: once per request with no
// client cache, once per TTL with the SQL store's (GRANTS_BENCH_CLIENT_CACHE=off turns it off).
func BenchmarkPollPrivateKeyJWT(b *testing.B) {
	srv, clock := newBenchServer(b)
	c := registerPKJWT(b, srv)
	newCode := func() string {
		f := c.auth(b)
		f.Set("scope", "openid")
		var m map[string]any
		if err := json.Unmarshal(serve(b, srv, "/oauth2/device/auth", "", f.Encode(), 200), &m); err != nil {
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
		f := c.auth(b)
		f.Set("grant_type", deviceGrant)
		f.Set("device_code", code)
		bodies[i] = f.Encode()
	}
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		clock.Add(5 * time.Second)
		serve(b, srv, "/oauth2/token", "", bodies[i], 400)
	}
	reportCPU(b, cpu)
}
