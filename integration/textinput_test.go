package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
)

// TestParametersMustBeText: every parameter is checked for valid UTF-8 and NUL before it reaches a
// store, so every store gives the same answer — 400 invalid_request — where PostgreSQL used to answer
// 500 (it refuses both in text columns) and SQLite kept them.
func TestParametersMustBeText(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	forEachSignInStore(t, func(t *testing.T, e *env, _ server.Store) {
		for _, c := range []struct {
			name, path, contentType, body, auth string
		}{
			{"device login_hint with NUL", "/oauth2/device/auth", form, "client_id=demo-device&login_hint=alice%00", ""},
			{"device login_hint not UTF-8", "/oauth2/device/auth", form, "client_id=demo-device&login_hint=%FF%FE", ""},
			{"device parameter name not UTF-8", "/oauth2/device/auth", form, "client_id=demo-device&%FF=1", ""},
			{"CIBA login_hint with NUL", "/oauth2/bc-authorize", form, "scope=openid&login_hint=al%00ice", basic("demo-ciba-poll", "demo-ciba-secret")},
			{"CIBA binding_message not UTF-8", "/oauth2/bc-authorize", form, "scope=openid&login_hint=alice&binding_message=%C3%28", basic("demo-ciba-poll", "demo-ciba-secret")},
			{"OTP login_hint with NUL", "/oauth2/otp", form, "login_hint=1%20Main%20St%00&scope=openid", basic("demo-kiosk", "demo-kiosk-secret")},
			{"OTP ui_locales not UTF-8", "/oauth2/otp", form, "login_hint=1%20Main%20St&scope=openid&ui_locales=%E0%80", basic("demo-kiosk", "demo-kiosk-secret")},
			{"token device_code with NUL", "/oauth2/token", form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=demo-device&device_code=%00", ""},
			{"token client_id not UTF-8", "/oauth2/token", form, "grant_type=client_credentials&client_id=%FF", ""},
			{"registration client_name with NUL", "/oauth2/register", "application/json", `{"client_name":"a\u0000b","grant_types":["client_credentials"]}`, "Bearer " + adminToken},
		} {
			t.Run(c.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, e.url+c.path, strings.NewReader(c.body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", c.contentType)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer res.Body.Close()
				body, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, res.StatusCode, "body: %s", body)
				var m map[string]string
				require.NoError(t, json.Unmarshal(body, &m), "body: %s", body)
				want := "invalid_request"
				if c.path == "/oauth2/register" {
					want = "invalid_client_metadata" // RFC 7591 §3.2.2's code for a bad metadata value
				}
				require.Equal(t, want, m["error"])
			})
		}
	})
}

// TestAPIErrorsAreRFC6749JSON: API endpoints answer every error as RFC 6749 §5.2 JSON — a method the
// route does not take included (405, with Allow) — and error_description holds only the characters
// §5.2 allows, even when the hint quotes what the client sent.
func TestAPIErrorsAreRFC6749JSON(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, c := range []struct {
		name, method, path, contentType, body, auth string
		status                                      int
	}{
		{"GET on a POST admin route", http.MethodGet, "/admin/device/approve", "", "", "Bearer " + adminToken, http.StatusMethodNotAllowed},
		{"DELETE on a GET admin route", http.MethodDelete, "/admin/audit/verify", "", "", "Bearer " + adminToken, http.StatusMethodNotAllowed},
		{"scope quoted in the hint", http.MethodPost, "/oauth2/device/auth", "application/x-www-form-urlencoded", "client_id=demo-device&scope=%C3%A9t%C3%A9%22%5C", "", http.StatusBadRequest},
		{"registration hint citing a section", http.MethodPost, "/oauth2/register", "text/plain", "{}", "Bearer " + adminToken, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
			require.NoError(t, err)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, c.status, res.StatusCode, "body: %s", body)
			require.Contains(t, res.Header.Get("Content-Type"), "application/json")
			var m map[string]string
			require.NoError(t, json.Unmarshal(body, &m), "body: %s", body)
			require.NotEmpty(t, m["error"])
			if c.status == http.StatusMethodNotAllowed {
				require.NotEmpty(t, res.Header.Get("Allow"))
			}
			for _, r := range m["error_description"] {
				require.True(t, r >= 0x20 && r <= 0x7e && r != '"' && r != '\\', "error_description %q holds %q, outside RFC 6749 §5.2's set", m["error_description"], r)
			}
		})
	}
}
