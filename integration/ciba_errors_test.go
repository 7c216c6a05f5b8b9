package integration

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

// strictClient is a poll client without the enrolment fallback: unknown users get unknown_user_id.
func strictClient(t *testing.T) *ciba.DefaultClient {
	hash, err := (&fosite.BCrypt{Config: &fosite.Config{HashCost: 4}}).Hash(context.Background(), []byte(server.DemoCIBASecret))
	require.NoError(t, err)
	return &ciba.DefaultClient{
		DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{ID: "strict-poll", Secret: hash, Scopes: []string{"openid", "profile"},
				GrantTypes: []string{string(ciba.GrantType)}},
			TokenEndpointAuthMethod: "client_secret_basic",
		},
		BackchannelTokenDeliveryMode: ciba.ModePoll,
	}
}

// TestCIBAEndpointErrors runs the error cases of CIBA Core §13 (backchannel endpoint) and §11 (token
// endpoint) over HTTP against the example, plus the admin API's own errors, and pins each answer in
// a golden file. Nothing here may change state: the final approval still works.
func TestCIBAEndpointErrors(t *testing.T) {
	t.Parallel()
	store := memory.New()
	require.NoError(t, store.SetClient(context.Background(), strictClient(t)))
	e := startCIBA(t, func(o *server.Options) { o.Store = store })

	poll := e.ask("demo-ciba-poll", "alice", nil)["auth_req_id"].(string)
	fallback := e.ask("demo-ciba-poll", "bob", nil)["auth_req_id"].(string)
	push := e.ask("demo-ciba-push", "alice", nil)["auth_req_id"].(string)
	secret := cibaBasic("demo-ciba-poll", server.DemoCIBASecret)

	bcForm := func(kv ...string) url.Values {
		f := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	tokenForm := func(id string) url.Values { return url.Values{"grant_type": {cibaGrantType}, "auth_req_id": {id}} }
	admin := http.Header{"Authorization": {"Bearer " + adminToken}}

	cases := []struct {
		name   string
		path   string
		form   url.Values
		header http.Header
		status int
		code   string
	}{
		// §13, backchannel authentication endpoint.
		{"bc_no_client_authentication", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice"), nil, 401, "invalid_client"},
		{"bc_wrong_secret", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice"), cibaBasic("demo-ciba-poll", "nope"), 401, "invalid_client"},
		{"bc_client_without_ciba", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice"), cibaBasic("demo-confidential", "demo-secret"), 400, "unauthorized_client"},
		{"bc_scope_without_openid", "/oauth2/bc-authorize", bcForm("scope", "profile", "login_hint", "alice"), secret, 400, "invalid_scope"},
		{"bc_scope_not_allowed", "/oauth2/bc-authorize", bcForm("scope", "openid admin", "login_hint", "alice"), secret, 400, "invalid_scope"},
		{"bc_two_hints", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice", "login_hint_token", "x"), secret, 400, "invalid_request"},
		{"bc_no_hint_strict_client", "/oauth2/bc-authorize", bcForm("scope", "openid"), cibaBasic("strict-poll", server.DemoCIBASecret), 400, "invalid_request"},
		{"bc_unknown_user_strict_client", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "nobody"), cibaBasic("strict-poll", server.DemoCIBASecret), 400, "unknown_user_id"},
		{"bc_no_device_strict_client", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "bob"), cibaBasic("strict-poll", server.DemoCIBASecret), 400, "unknown_user_id"},
		{"bc_login_hint_token_unsupported", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint_token", "eyJ.x.y"), cibaBasic("strict-poll", server.DemoCIBASecret), 400, "unknown_user_id"},
		{"bc_binding_message_too_long", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice", "binding_message", strings.Repeat("x", 65)), secret, 400, "invalid_binding_message"},
		{"bc_requested_expiry_not_integer", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice", "requested_expiry", "soon"), secret, 400, "invalid_request"},
		{"bc_ping_without_notification_token", "/oauth2/bc-authorize", bcForm("scope", "openid", "login_hint", "alice"), cibaBasic("demo-ciba-ping", server.DemoCIBASecret), 400, "invalid_request"},
		// §11, token endpoint.
		{"token_authorization_pending", "/oauth2/token", tokenForm(poll), secret, 400, "authorization_pending"},
		{"token_slow_down", "/oauth2/token", tokenForm(poll), secret, 400, "slow_down"},
		{"token_fallback_pending", "/oauth2/token", tokenForm(fallback), secret, 400, "authorization_pending"},
		{"token_unknown_auth_req_id", "/oauth2/token", tokenForm("not-a-real-id.signature"), secret, 400, "invalid_grant"},
		{"token_other_clients_auth_req_id", "/oauth2/token", tokenForm(poll), cibaBasic("demo-ciba-ping", server.DemoCIBASecret), 400, "invalid_grant"},
		{"token_push_client", "/oauth2/token", tokenForm(push), cibaBasic("demo-ciba-push", server.DemoCIBASecret), 400, "unauthorized_client"},
		// The admin API.
		{"admin_without_token", "/admin/ciba/approve", url.Values{"auth_req_id": {poll}}, nil, 401, "invalid_token"},
		{"admin_missing_auth_req_id", "/admin/ciba/approve", url.Values{}, admin, 400, "invalid_request"},
		{"admin_forged_auth_req_id", "/admin/ciba/approve", url.Values{"auth_req_id": {"forged.value"}}, admin, 400, "invalid_grant"},
		{"admin_fallback_without_user", "/admin/ciba/approve", url.Values{"auth_req_id": {fallback}}, admin, 400, "invalid_request"},
		{"admin_wrong_subject", "/admin/ciba/deny", url.Values{"auth_req_id": {poll}, "subject": {"bob"}}, admin, 400, "invalid_grant"},
	}
	for _, tc := range cases {
		// Sequential: token_slow_down relies on the poll just before it.
		res := raw(t, e.env, tc.path, tc.form, tc.header)
		body := res.JSON(t)
		require.Equal(t, tc.status, res.Status, "%s: %v", tc.name, body)
		require.Equal(t, tc.code, body["error"], tc.name)
		grantstest.Golden(t, "ciba_"+tc.name, res, nil)
	}

	// None of that changed anything: alice can still approve and the client gets its tokens.
	status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {poll}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	e.clock.Add(time.Minute)
	status, body = e.redeem("demo-ciba-poll", poll)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// raw sends a form and returns the whole response for a golden file.
func raw(t *testing.T, e *env, path string, form url.Values, header http.Header) *grantstest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	require.NoError(t, err)
	return &grantstest.Response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
}
