package outbox_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/outbox"
)

// setPush is a SET push message to target (the SET itself is opaque to the outbox).
func setPush(target, bearer string) outbox.Message {
	return outbox.SecurityEventMessage("secevent:req-1:r1", target, bearer, []byte("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"))
}

// TestSecurityEventPush sends one real HTTPS request per case and checks the request and how the
// answer is judged (RFC 8935 Section 2: 202 is the only success; a 400 is a refusal with a JSON error
// code; the rest as for other webhooks).
func TestSecurityEventPush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		ok        bool
		retryable bool
		message   string
	}{
		{"202 Accepted", status(202, ""), true, false, ""},
		{"200 is not a SET receiver's answer", status(200, "<html>welcome</html>"), false, false, "HTTP 200: a SET receiver acknowledges with 202 Accepted"},
		{"204 is not a SET receiver's answer", status(204, ""), false, false, "HTTP 204"},
		{"400 with an RFC 8935 error", status(400, `{"err":"invalid_audience","description":"aud is not \"rs.example\"\n"}`, "Content-Type", "application/json"),
			false, false, `HTTP 400: invalid_audience: aud is not "rs.example"`},
		{"400 with an error code only", status(400, `{"err":"invalid_key"}`), false, false, "HTTP 400: invalid_key"},
		{"400 without JSON", status(400, "bad request"), false, false, "HTTP 400"},
		{"400 with an error code that is no code", status(400, `{"err":"<script>","description":"x"}`), false, false, "HTTP 400"},
		{"401 is permanent", status(401, `{"err":"authentication_failed"}`), false, false, "HTTP 401"},
		{"429 is retried", status(429, "", "Retry-After", "30"), false, true, "HTTP 429"},
		{"503 is retried", status(503, ""), false, true, "HTTP 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var accept string
			rc := newReceiver(t, true, recordAccept(tc.handler, &accept))
			_, err := rc.webhook(true).Deliver(context.Background(), setPush(rc.URL+"/events", "receiver-secret"))
			got := <-rc.got
			require.Equal(t, http.MethodPost, got.Method)
			require.Equal(t, "/events", got.Path)
			require.Equal(t, "application/secevent+jwt", got.ContentType)
			require.Equal(t, "application/json", accept)
			require.Equal(t, "Bearer receiver-secret", got.Authorization)
			require.Equal(t, "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln", got.Body)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.retryable, outbox.Retryable(err))
			require.Contains(t, err.Error(), tc.message)
			require.NotContains(t, err.Error(), "receiver-secret")
			require.NotContains(t, err.Error(), "<script>")
		})
	}
}

// recordAccept records the Accept header of the request before next answers it (read it after the
// receiver's got channel delivered the request).
func recordAccept(next http.HandlerFunc, accept *string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		*accept = r.Header.Get("Accept")
		next(w, r)
	}
}

func TestSecurityEventPushWithoutBearer(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, true, status(202, ""))
	_, err := rc.webhook(true).Deliver(context.Background(), setPush(rc.URL, ""))
	require.NoError(t, err)
	require.Empty(t, (<-rc.got).Authorization)
}

// TestSecurityEventRefusalIsShort: a receiver's description is cut short and stripped of control
// characters before it reaches logs and attempt records.
func TestSecurityEventRefusalIsShort(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, true, status(400, `{"err":"invalid_request","description":"`+strings.Repeat("x\\u0007", 5000)+`"}`))
	_, err := rc.webhook(true).Deliver(context.Background(), setPush(rc.URL, ""))
	require.ErrorIs(t, err, outbox.ErrPermanent)
	require.Less(t, len(err.Error()), 300)
	require.NotContains(t, err.Error(), "\a")
}

// TestCIBAWebhooksKeepTheirAnswers: the SET rules apply to SET messages only; a CIBA callback
// answered 200 is still delivered.
func TestCIBAWebhooksKeepTheirAnswers(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, true, status(200, ""))
	_, err := rc.webhook(true).Deliver(context.Background(), ping("p", rc.URL))
	require.NoError(t, err)
	require.Equal(t, "application/json", (<-rc.got).ContentType)
}
