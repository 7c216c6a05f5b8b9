package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Seed 001: staff find a customer's pending devices by the identifier the customer gives, however the
// device named the account.
func TestKioskFindsAnAccountsRequestsHoweverNamed(t *testing.T) {
	t.Parallel()
	e := start(t)
	var codes []string
	for _, hint := range []string{"alice", "alice@example.com", "Alice@Example.com", "ACCT-1001", "bob"} {
		_, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-kiosk-app"}, "scope": {"openid"}, "login_hint": {hint}}, nil)
		require.NotEmpty(t, da["user_code"], "%v", da)
		codes = append(codes, da["user_code"].(string))
		e.clock.Add(time.Second)
	}
	for _, typed := range []string{"alice", "ALICE@example.com", "acct-1001"} {
		status, body := ksPending(t, e, "staff", typed)
		require.Equal(t, http.StatusOK, status, "%v", body)
		var hints []string
		for _, p := range body["pending"].([]interface{}) {
			r := p.(map[string]interface{})
			require.Equal(t, "alice", r["account"])
			hints = append(hints, r["login_hint"].(string))
		}
		require.Equal(t, []string{"alice", "alice@example.com", "Alice@Example.com", "ACCT-1001"}, hints, "typed %q", typed)
	}

	// The staff page lists them too, saying how each device named the account.
	b := e.browser("staff", "staff-password")
	status, page := b.get("/kiosk?login_hint=" + url.QueryEscape("Alice@Example.com"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 4, strings.Count(page, `class="box" id="request-`), page)
	require.Contains(t, page, "The device named this account as <b>ACCT-1001</b>.")
	require.NotContains(t, page, "The device named this account as <b>Alice@Example.com</b>.", "the way staff typed it needs no note")

	// Approving one named by e-mail, with the account looked up by number.
	status, body := ksPending(t, e, "staff", "ACCT-1001")
	require.Equal(t, http.StatusOK, status)
	rid := body["pending"].([]interface{})[1].(map[string]interface{})["request_id"].(string)
	status, body = e.admin("/admin/device/kiosk/approve", url.Values{"actor": {"staff"}, "login_hint": {"ACCT-1001"}, "request_id": {rid},
		"user_code": {codes[1]}, "proofing_method": {"passport"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	_, body = ksPending(t, e, "staff", "alice")
	require.Len(t, body["pending"], 3)
}
