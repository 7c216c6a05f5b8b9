package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadInputGetsRFCErrors: whatever a client sends, it gets an RFC 6749 §5.2 JSON error with the right
// status and no-store; never a 5xx, a panic or an HTML page.
func TestBadInputGetsRFCErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	const form = "application/x-www-form-urlencoded"
	const dc = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
	big := "client_id=demo-device&scope=" + strings.Repeat("a", 2<<20)
	cases := []struct {
		name, method, path, contentType, body string
		auth                                  string
		status                                int
		code                                  string
	}{
		{"device: GET", http.MethodGet, "/oauth2/device/auth", "", "", "", 400, "invalid_request"},
		{"device: JSON body", http.MethodPost, "/oauth2/device/auth", "application/json", `{"client_id":"demo-device"}`, "", 400, "invalid_request"},
		{"device: no content type", http.MethodPost, "/oauth2/device/auth", "", "client_id=demo-device", "", 400, "invalid_request"},
		{"device: malformed form", http.MethodPost, "/oauth2/device/auth", form, "client_id=%zz", "", 400, "invalid_request"},
		{"device: repeated parameter", http.MethodPost, "/oauth2/device/auth", form, "client_id=demo-device&scope=openid&scope=profile", "", 400, "invalid_request"},
		{"device: oversized body", http.MethodPost, "/oauth2/device/auth", form, big, "", 400, "invalid_request"},
		{"device: no client", http.MethodPost, "/oauth2/device/auth", form, "scope=openid", "", 400, "invalid_request"},
		{"device: unknown client", http.MethodPost, "/oauth2/device/auth", form, "client_id=nobody", "", 401, "invalid_client"},
		{"device: wrong secret", http.MethodPost, "/oauth2/device/auth", form, "", basic("demo-confidential", "wrong"), 401, "invalid_client"},
		{"device: confidential client without secret", http.MethodPost, "/oauth2/device/auth", form, "client_id=demo-confidential", "", 401, "invalid_client"},
		{"device: Basic and body name different clients", http.MethodPost, "/oauth2/device/auth", form, "client_id=demo-device", basic("demo-confidential", "demo-secret"), 400, "invalid_request"},
		{"device: scope not allowed", http.MethodPost, "/oauth2/device/auth", form, "client_id=demo-device&scope=admin", "", 400, "invalid_scope"},
		{"token: GET", http.MethodGet, "/oauth2/token", "", "", "", 400, "invalid_request"},
		{"token: empty body", http.MethodPost, "/oauth2/token", form, "", "", 400, "invalid_request"},
		{"token: malformed form", http.MethodPost, "/oauth2/token", form, "grant_type=%zz", "", 400, "invalid_request"},
		{"token: repeated parameter", http.MethodPost, "/oauth2/token", form, dc + "&client_id=demo-device&device_code=a&device_code=b", "", 400, "invalid_request"},
		{"token: oversized body", http.MethodPost, "/oauth2/token", form, big, "", 400, "invalid_request"},
		{"token: unknown grant type", http.MethodPost, "/oauth2/token", form, "grant_type=urn:example:nope&client_id=demo-device", "", 400, "unsupported_grant_type"},
		{"token: device code missing", http.MethodPost, "/oauth2/token", form, dc + "&client_id=demo-device", "", 400, "invalid_request"},
		{"token: garbage device code", http.MethodPost, "/oauth2/token", form, dc + "&client_id=demo-device&device_code=garbage..", "", 400, "invalid_grant"},
		{"token: device code that is not text", http.MethodPost, "/oauth2/token", form, dc + "&client_id=demo-device&device_code=%00%FF..", "", 400, "invalid_request"},
		{"token: unknown client", http.MethodPost, "/oauth2/token", form, dc + "&client_id=nobody&device_code=x", "", 401, "invalid_client"},
		{"admin: no token", http.MethodPost, "/admin/device/approve", form, "user_code=BCDF-GHJK&subject=alice", "", 401, "invalid_token"},
		{"admin: unknown user code", http.MethodPost, "/admin/device/approve", form, "user_code=BCDF-GHJK&subject=alice", "Bearer " + adminToken, 400, "invalid_user_code"},
		{"admin: no subject", http.MethodPost, "/admin/device/approve", form, "user_code=BCDF-GHJK", "Bearer " + adminToken, 400, "invalid_request"},
		{"qr: malformed code", http.MethodGet, "/device/qr?user_code=x", "", "", "", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
			require.NoError(t, err)
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			status, body := e.do(req)
			require.Equal(t, c.status, status, "%v", body)
			require.Equal(t, c.code, body["error"], "%v", body)
		})
	}
}
