package linkchannel_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzLinkPage feeds attacker-chosen tokens and actions to the page: it never answers 5xx, never
// panics, and never decides anything.
func FuzzLinkPage(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "approve")
	f.Add("", "deny")
	f.Add("%zz", "approve")
	f.Add(strings.Repeat("_", 32), "")
	fx := newFixture(f, nil)
	_, link := fx.notify()
	forged := []byte(tokenOf(link))
	forged[5] ^= 1
	f.Add(string(forged), "approve")
	h := fx.ch.Handler()
	f.Fuzz(func(t *testing.T, token, action string) {
		for _, r := range []*http.Request{
			httptest.NewRequest(http.MethodGet, "/l/x", nil),
			httptest.NewRequest(http.MethodPost, "/l/x", strings.NewReader(url.Values{"token": {token}, "action": {action}}.Encode())),
		} {
			r.URL.Path = "/l/" + token
			if r.Method == http.MethodPost {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, r)
			if rw.Code >= 500 {
				t.Fatalf("%s %q: status %d", r.Method, token, rw.Code)
			}
		}
		if token != tokenOf(link) && len(fx.decider.all()) != 0 {
			t.Fatalf("token %q decided something", token)
		}
	})
}
