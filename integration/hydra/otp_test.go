package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// TestOTPInsideHydra: a kiosk identifies a person, has a code sent by e-mail and redeems it at Hydra's
// token endpoint; the tokens are Hydra's. A wrong code is refused and a redeemed one cannot be used
// again.
func TestOTPInsideHydra(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		status, ch := e.post("/oauth2/otp", url.Values{"login_hint": {"alice@example.com"}, "scope": {"openid profile"}}, "demo-kiosk", "demo-kiosk-secret")
		require.Equal(t, http.StatusOK, status, "%v", ch)
		require.Equal(t, []any{
			map[string]any{"id": "sms-1", "type": "sms", "destination": "***-***-4567"},
			map[string]any{"id": "email-1", "type": "email", "destination": "a***@e***.com"},
		}, ch["channels"], "masked destinations only")
		oob := ch["oob_code"].(string)
		status, body := e.post("/oauth2/otp", url.Values{"oob_code": {oob}, "channel": {"email-1"}}, "demo-kiosk", "demo-kiosk-secret")
		require.Equal(t, http.StatusOK, status, "%v", body)

		e.srv.otp.Challenge.Flush() // codes are delivered after the answer
		msgs := e.srv.outbox.Messages()
		require.NotEmpty(t, msgs)
		m := msgs[len(msgs)-1]
		require.Equal(t, "alice@example.com", m.To)
		code := sixDigits.FindString(m.Subject)
		require.NotEmpty(t, code, m.Subject)
		require.Contains(t, m.Text, "Hardware store kiosk", "the message names the client")

		redeem := func(code string) (int, map[string]any) {
			return e.post("/oauth2/token", url.Values{"grant_type": {"https://github.com/fosite-contrib/grants/grant-type/otp"},
				"oob_code": {oob}, "binding_code": {code}}, "demo-kiosk", "demo-kiosk-secret")
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		status, body = redeem(wrong)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])

		status, tok := redeem(code)
		require.Equal(t, http.StatusOK, status, "%v", tok)
		require.True(t, strings.HasPrefix(tok["access_token"].(string), "ory_at_"))
		claims := e.verifyIDToken(tok["id_token"].(string))
		require.Equal(t, "alice", claims["sub"])
		require.Equal(t, []any{"otp"}, claims["amr"], "RFC 8176: a one-time code sent by e-mail")
		info := e.introspect(tok["access_token"].(string))
		require.Equal(t, true, info["active"])
		require.Equal(t, "demo-kiosk", info["client_id"])

		status, body = redeem(code)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"])
	})
}
