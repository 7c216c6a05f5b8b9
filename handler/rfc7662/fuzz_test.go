package rfc7662_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/internal/rfc6749/rfc6749test"
)

// FuzzIntrospectionRequest sends attacker-chosen methods, content types, Authorization headers and
// bodies to the introspection endpoint. Whatever arrives, the answer is JSON: 200 with an "active"
// member, or an RFC 6749 error with a 4xx status (429 once the fuzzer's failures reach the client
// authentication limit), never a 5xx; a 200 only ever goes to an authenticated confidential client,
// and an active answer only for the one token issued to it.
func FuzzIntrospectionRequest(f *testing.F) {
	s := newServer(f, nil)
	owner := rfc6749test.BasicAuth(grantstest.ConfidentialClientID, secret)
	tok := s.ClientCredentials(f, owner)
	basic := s.NewRequest(f, path, nil, owner).Header.Get("Authorization")
	f.Add("POST", "application/x-www-form-urlencoded", basic, "token="+tok.AccessToken)
	f.Add("POST", "application/x-www-form-urlencoded", basic, "token=abc")
	f.Add("POST", "application/x-www-form-urlencoded", basic, "token=abc&token_type_hint=refresh_token")
	f.Add("POST", "application/x-www-form-urlencoded", basic, "token=a&token=b")
	f.Add("POST", "application/x-www-form-urlencoded", "", "client_id=device-public&token=abc")
	f.Add("POST", "application/x-www-form-urlencoded", "Bearer abc", "token=abc")
	f.Add("POST", "application/x-www-form-urlencoded; charset=utf-8", "Basic %%%", "token=%zz")
	f.Add("GET", "", basic, "")
	f.Add("POST", "text/plain", basic, "token=abc")
	f.Fuzz(func(t *testing.T, method, contentType, authorization, body string) {
		r, err := http.NewRequest(method, s.HTTP.URL+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Authorization", authorization)
		rec := httptest.NewRecorder()
		s.Handler.ServeHTTP(rec, r)
		require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
		var m map[string]interface{}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), "body: %s", rec.Body)
		if rec.Code == http.StatusOK {
			require.Equal(t, http.MethodPost, method)
			require.Contains(t, m, "active")
			if m["active"] == true {
				require.Equal(t, grantstest.ConfidentialClientID, m["client_id"])
			}
			return
		}
		require.GreaterOrEqual(t, rec.Code, 400, "body: %s", rec.Body)
		require.Less(t, rec.Code, 500, "body: %s", rec.Body)
		require.Regexp(t, `^[a-z_]+$`, m["error"])
	})
}
