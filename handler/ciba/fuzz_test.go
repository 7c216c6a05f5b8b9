package ciba_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzBackchannelEndpoint sends arbitrary bodies to the endpoint as an authenticated client: the answer
// is always 200, 400 or 401 with a JSON body (never a 5xx, never a panic), and a refused request reaches
// no device.
func FuzzBackchannelEndpoint(f *testing.F) {
	for _, s := range []string{
		"scope=openid&login_hint=alice",
		"scope=openid&login_hint=alice&login_hint_token=lht:alice",
		"scope=openid&login_hint=alice&requested_expiry=%2B5",
		"scope=openid&login_hint=alice&binding_message=%00",
		"scope=openid&id_token_hint=a.b.c",
		"request=eyJhbGciOiJub25lIn0.e30.",
		"scope=openid&login_hint=alice&client_notification_token=a%20b",
		"%zz",
	} {
		f.Add(s, pollClient)
		f.Add(s, pingClient)
		f.Add(s, signedClient)
		f.Add(s, fallbackClient)
	}
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body, client string) {
		before := fx.ad.count()
		r := httptest.NewRequest(http.MethodPost, "https://op.example.com"+bcPath, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(client, secret)
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusUnauthorized:
			if fx.ad.count() != before {
				t.Fatalf("a refused request reached a device")
			}
		default:
			t.Fatalf("status %d for %q as %q: %s", rec.Code, body, client, rec.Body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
	})
}
