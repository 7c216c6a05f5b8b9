package main

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// hydraAccessTokens counts the access tokens Hydra's table holds for a request ID.
func (e *env) hydraAccessTokens(t *testing.T, requestID string) int {
	t.Helper()
	db := e.srv.Store().SQL().DB()
	q := "SELECT COUNT(*) FROM hydra_oauth2_access WHERE request_id = ?"
	if e.srv.Store().SQL().Dialect() == "postgres" {
		q = "SELECT COUNT(*) FROM hydra_oauth2_access WHERE request_id = $1"
	}
	var n int
	require.NoError(t, db.QueryRow(q, requestID).Scan(&n))
	return n
}

// deviceState returns the state of the device grant with that request ID.
func (e *env) deviceState(t *testing.T, requestID string) pending.State {
	t.Helper()
	g, err := e.srv.Store().GetPendingGrantByRequestID(context.Background(), pending.KindDeviceCode, requestID)
	require.NoError(t, err)
	return g.State
}

// TestRedemptionRace: 32 token requests redeem one approved device code at the same moment; exactly one
// gets tokens, every other one invalid_grant, none a server error — the pending grant is consumed in
// the transaction in which Hydra stores the tokens.
func TestRedemptionRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		da := e.deviceAuth("demo-device", "openid offline_access")
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		requestID := body["request_id"].(string)

		const n = 32
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners int
			others  = map[string]int{}
			start   = make(chan struct{})
		)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := http.PostForm(e.url+"/oauth2/token", url.Values{
					"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {"demo-device"}, "device_code": {da.DeviceCode},
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					others[err.Error()]++
					return
				}
				_ = res.Body.Close()
				if res.StatusCode == http.StatusOK {
					winners++
				} else {
					others[http.StatusText(res.StatusCode)]++
				}
			}()
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, winners, "exactly one redemption gets tokens; the others: %v", others)
		require.Equal(t, map[string]int{"Bad Request": n - 1}, others, "every other one is refused (invalid_grant), none fails")
		require.Equal(t, pending.StateConsumed, e.deviceState(t, requestID))
		// The losers came after the winner and are replays: they revoke what it got (never more than one
		// token was stored).
		require.LessOrEqual(t, e.hydraAccessTokens(t, requestID), 1)
	})
}

// TestRedemptionIsOneTransaction: when Hydra cannot store the tokens, the redemption fails with
// server_error and the device code is not spent; once Hydra can again, the device gets its tokens.
func TestRedemptionIsOneTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		db := e.srv.Store().SQL().DB()
		breakHydra, repairHydra := []string{
			"CREATE TRIGGER grants_test_fail BEFORE INSERT ON hydra_oauth2_access BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
		}, []string{"DROP TRIGGER grants_test_fail"}
		if e.srv.Store().SQL().Dialect() == "postgres" {
			breakHydra = []string{
				"CREATE FUNCTION grants_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
				"CREATE TRIGGER grants_test_fail BEFORE INSERT ON hydra_oauth2_access FOR EACH ROW EXECUTE FUNCTION grants_test_fail()",
			}
			repairHydra = []string{"DROP TRIGGER grants_test_fail ON hydra_oauth2_access", "DROP FUNCTION grants_test_fail()"}
		}

		da := e.deviceAuth("demo-device", "openid")
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		requestID := body["request_id"].(string)

		for _, q := range breakHydra {
			_, err := db.Exec(q)
			require.NoError(t, err)
		}
		status, body = e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusInternalServerError, status, "%v", body)
		require.Equal(t, "server_error", body["error"])
		require.Equal(t, pending.StateApproved, e.deviceState(t, requestID), "the failed redemption spent nothing")

		for _, q := range repairHydra {
			_, err := db.Exec(q)
			require.NoError(t, err)
		}
		e.clock.Add(time.Second)
		status, body = e.pollDevice("demo-device", da.DeviceCode)
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, pending.StateConsumed, e.deviceState(t, requestID))
		require.Equal(t, 1, e.hydraAccessTokens(t, requestID))
	})
}
