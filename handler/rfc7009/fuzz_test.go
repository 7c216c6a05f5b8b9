package rfc7009_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/rfc7009"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/internal/rfc6749/rfc6749test"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func newRequest(t testing.TB, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// FuzzRevocationRequest sends attacker-chosen methods, content types, Authorization headers and bodies
// to the revocation endpoint. Whatever arrives, the answer is 200 with an empty body or an RFC 6749
// JSON error with a 4xx status (429 once the fuzzer's failures reach the client authentication limit),
// never a 5xx; and a token survives every request that is not an authenticated revocation by its own
// client.
func FuzzRevocationRequest(f *testing.F) {
	s := rfc6749test.New(f, func(p *fosite.Fosite) map[string]http.Handler {
		return map[string]http.Handler{path: &rfc7009.Endpoint{Provider: p}}
	})
	owner := rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret)
	tok := s.ClientCredentials(f, owner)
	basic := s.NewRequest(f, path, nil, owner).Header.Get("Authorization")
	f.Add("POST", "application/x-www-form-urlencoded", basic, "token=abc")
	f.Add("POST", "application/x-www-form-urlencoded", basic, "token=abc&token=def")
	f.Add("POST", "application/x-www-form-urlencoded", "", "client_id=device-public&token=abc&token_type_hint=access_token")
	f.Add("POST", "application/x-www-form-urlencoded", "", "client_id=no-device&client_secret=x&client_assertion=y&token=abc")
	f.Add("POST", "application/x-www-form-urlencoded; charset=utf-8", "Basic %%%", "token=%zz")
	f.Add("GET", "", basic, "")
	f.Add("POST", "multipart/form-data; boundary=x", basic, "--x\r\n")
	f.Fuzz(func(t *testing.T, method, contentType, authorization, body string) {
		r, err := http.NewRequest(method, s.HTTP.URL+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Authorization", authorization)
		rec := httptest.NewRecorder()
		s.Handler.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			require.Empty(t, rec.Body.String())
		} else {
			require.GreaterOrEqual(t, rec.Code, 400, "body: %s", rec.Body)
			require.Less(t, rec.Code, 500, "body: %s", rec.Body)
			require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
			require.Regexp(t, `^\{"error":"[a-z_]+"`, rec.Body.String())
		}
		if !strings.Contains(body, tok.AccessToken) {
			require.True(t, s.Active(t, tok.AccessToken))
		}
	})
}
