package ciba_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/internal/grantstest"
)

// requireErrorShape checks a CIBA Core §13 error body: error, error_description and nothing else, with
// the description in the RFC 6749 §5.2 character set.
func requireErrorShape(t *testing.T, res *grantstest.Response) {
	t.Helper()
	m := res.JSON(t)
	for k := range m {
		require.Contains(t, []string{"error", "error_description", "error_uri"}, k, "unexpected member in %s", res.Body)
	}
	desc, _ := m["error_description"].(string)
	for _, c := range desc {
		require.True(t, c >= 0x20 && c <= 0x7e && c != '"' && c != '\\', "character %q not allowed in error_description", c)
	}
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
}

func TestBackchannelErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	alice := func(extra ...string) url.Values {
		v := form("scope", "openid profile", "login_hint", "alice")
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				v.Del(extra[i])
			} else {
				v.Set(extra[i], extra[i+1])
			}
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		r      req
		status int
		error  string
	}{
		{"get", req{method: http.MethodGet, form: alice(), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"no_client", req{form: alice()}, 401, "invalid_client"},
		{"unknown_client", req{form: alice(), user: "nobody", pass: secret}, 401, "invalid_client"},
		{"wrong_secret", req{form: alice(), user: pollClient, pass: "wrong"}, 401, "invalid_client"},
		{"public_client", req{form: alice("client_id", publicClient)}, 401, "invalid_client"},
		{"client_without_ciba_grant", req{form: alice(), user: noCIBAClient, pass: secret}, 400, "unauthorized_client"},
		{"client_without_delivery_mode", req{form: alice(), user: noModeClient, pass: secret}, 400, "unauthorized_client"},
		{"repeated_parameter", req{raw: "scope=openid&login_hint=alice&login_hint=bob", user: pollClient, pass: secret}, 400, "invalid_request"},
		{"missing_scope", req{form: alice("scope", ""), user: pollClient, pass: secret}, 400, "invalid_scope"},
		{"scope_without_openid", req{form: alice("scope", "profile"), user: pollClient, pass: secret}, 400, "invalid_scope"},
		{"scope_not_allowed", req{form: alice("scope", "openid admin"), user: pollClient, pass: secret}, 400, "invalid_scope"},
		{"no_hint", req{form: alice("login_hint", ""), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"two_hints", req{form: alice("login_hint_token", "lht:alice"), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"three_hints", req{form: alice("login_hint_token", "lht:alice", "id_token_hint", "x.y.z"), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"unknown_user", req{form: alice("login_hint", "mallory"), user: pollClient, pass: secret}, 400, "unknown_user_id"},
		{"user_without_device", req{form: alice("login_hint", "bob"), user: pollClient, pass: secret}, 400, "unknown_user_id"},
		{"expired_login_hint_token", req{form: alice("login_hint", "", "login_hint_token", "expired:alice"), user: pollClient, pass: secret}, 400, "expired_login_hint_token"},
		{"garbage_id_token_hint", req{form: alice("login_hint", "", "id_token_hint", "not-a-jwt"), user: pollClient, pass: secret}, 400, "unknown_user_id"},
		{"binding_message_too_long", req{form: alice("binding_message", strings.Repeat("x", 65)), user: pollClient, pass: secret}, 400, "invalid_binding_message"},
		{"binding_message_control_character", req{form: alice("binding_message", "pay\n1000"), user: pollClient, pass: secret}, 400, "invalid_binding_message"},
		// Not text at all: refused before the binding message is judged, as every parameter that is not text.
		{"binding_message_invalid_utf8", req{form: alice("binding_message", "caf\xe9"), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"requested_expiry_zero", req{form: alice("requested_expiry", "0"), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"requested_expiry_negative", req{form: alice("requested_expiry", "-5"), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"requested_expiry_not_integer", req{form: alice("requested_expiry", "1.5"), user: pollClient, pass: secret}, 400, "invalid_request"},
		{"ping_without_notification_token", req{form: alice(), user: pingClient, pass: secret}, 400, "invalid_request"},
		{"ping_notification_token_bad_syntax", req{form: alice("client_notification_token", "not a token"), user: pingClient, pass: secret}, 400, "invalid_request"},
		{"ping_notification_token_too_long", req{form: alice("client_notification_token", strings.Repeat("a", 1025)), user: pingClient, pass: secret}, 400, "invalid_request"},
		{"missing_user_code", req{form: alice(), user: userCodeClient, pass: secret}, 400, "missing_user_code"},
		{"invalid_user_code", req{form: alice("user_code", "9999"), user: userCodeClient, pass: secret}, 400, "invalid_user_code"},
		{"signed_client_unsigned_request", req{form: alice(), user: signedClient, pass: secret}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.path = bcPath
			res := f.do(t, tc.r)
			require.Equal(t, tc.status, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.error, res.Error(t))
			requireErrorShape(t, res)
			grantstest.Golden(t, "backchannel_"+tc.name, res, nil)
		})
	}
	require.Zero(t, f.ad.count(), "no refused request reaches a device")
}

func TestBackchannelSuccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)

	t.Run("poll", func(t *testing.T) {
		res := f.authorize(t, pollClient, form("scope", "profile openid", "login_hint", "alice", "binding_message", "W4SCT", "acr_values", "urn:a urn:b"))
		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		id := res.String(t, "auth_req_id")
		require.Regexp(t, `^[A-Za-z0-9._-]{40,}$`, id)
		grantstest.Golden(t, "backchannel_success_poll", res, map[string]string{id: "<auth_req_id>"})

		n := f.ad.last(t)
		require.Equal(t, "alice", n.Subject)
		require.Equal(t, []ciba.Device{{ID: "alice@example.com", Kind: "email"}}, n.Devices)
		require.Equal(t, pollClient, n.ClientID)
		require.Equal(t, "Client "+pollClient, n.ClientName)
		require.Equal(t, "W4SCT", n.BindingMessage)
		require.Equal(t, []string{"profile", "openid"}, n.Scopes)
		require.Equal(t, []string{"urn:a", "urn:b"}, n.ACRValues)
		require.Equal(t, ciba.ModePoll, n.Mode)
		require.NotEmpty(t, n.Ref)
		require.NotContains(t, n.Ref, id)
		require.Equal(t, f.clock.Now().Add(10*60e9), n.ExpiresAt)
	})

	t.Run("push has no interval", func(t *testing.T) {
		res := f.authorize(t, pushClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "8d67dc78-7faa-4d41-aabd-67707b374255"))
		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		id := res.String(t, "auth_req_id")
		grantstest.Golden(t, "backchannel_success_push", res, map[string]string{id: "<auth_req_id>"})
	})

	t.Run("requested_expiry is honoured and reported", func(t *testing.T) {
		a := f.start(t, pollClient, form("scope", "openid", "login_hint", "alice", "requested_expiry", "30"))
		require.EqualValues(t, 30, a.ExpiresIn)
		require.Equal(t, f.clock.Now().Add(30e9), f.ad.last(t).ExpiresAt)
	})

	t.Run("requested_expiry is bounded", func(t *testing.T) {
		a := f.start(t, pollClient, form("scope", "openid", "login_hint", "alice", "requested_expiry", "999999"))
		require.EqualValues(t, 3600, a.ExpiresIn)
	})

	t.Run("other hints", func(t *testing.T) {
		f.start(t, pollClient, form("scope", "openid", "login_hint_token", "lht:alice"))
		require.Equal(t, "alice", f.ad.last(t).Subject)
	})

	t.Run("user code", func(t *testing.T) {
		f.start(t, userCodeClient, form("scope", "openid", "login_hint", "alice", "user_code", "1234"))
	})

	t.Run("binding message of non-ASCII letters", func(t *testing.T) {
		f.start(t, pollClient, form("scope", "openid", "login_hint", "alice", "binding_message", "Überweisung 1234 – ok"))
		require.Equal(t, "Überweisung 1234 – ok", f.ad.last(t).BindingMessage)
	})

	t.Run("a poll client's notification token is ignored", func(t *testing.T) {
		res := f.authorize(t, pollClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "x"))
		require.Equal(t, http.StatusOK, res.Status, "a poll client's client_notification_token is ignored")
	})
}

func TestBackchannelIDTokenHint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// Get an ID token for alice the normal way, then use it as a hint, also after it expired.
	a := f.start(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	f.approveLast(t)
	res := f.poll(t, pollClient, a.AuthReqID)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	idToken := res.String(t, "id_token")

	f.clock.Advance(48 * 3600e9)
	f.start(t, pollClient, form("scope", "openid", "id_token_hint", idToken))
	require.Equal(t, "alice", f.ad.last(t).Subject)

	// Another client cannot use alice's ID token as its hint.
	res = f.authorize(t, pingClient, form("scope", "openid", "id_token_hint", idToken, "client_notification_token", "tok"))
	require.Equal(t, "unknown_user_id", res.Error(t))
	// A token signed by someone else is refused.
	forged := signRequest(t, f.clientKey, "ES256", map[string]interface{}{"iss": issuer, "sub": "alice", "aud": pollClient})
	res = f.authorize(t, pollClient, form("scope", "openid", "id_token_hint", forged))
	require.Equal(t, "unknown_user_id", res.Error(t))
}
