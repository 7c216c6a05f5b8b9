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

// TestConsumeInHydraTransactions: the Store consumes a pending grant in Hydra's own transactions
// (Hydra's BeginTX, which on PostgreSQL is repeatable read). A second transaction that read the grant
// before the first consumed it cannot consume it too: on PostgreSQL that shows as a serialization
// failure, which the Store reports as pending.ErrStateChanged — a lost race, not a server error.
func TestConsumeInHydraTransactions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		s := e.srv.Store()
		da := e.deviceAuth("demo-device", "openid")
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da.UserCode}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		g, err := s.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, body["request_id"].(string))
		require.NoError(t, err)

		if s.SQL().Dialect() == "postgres" {
			late, err := s.BeginTX(ctx)
			require.NoError(t, err)
			defer func() { _ = s.Rollback(late) }()
			seen, err := s.GetPendingGrant(late, g.Kind, g.HandleSignature, nil) // the late transaction's snapshot
			require.NoError(t, err)
			require.Equal(t, pending.StateApproved, seen.State)

			first, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.ConsumePendingGrant(first, g.Kind, g.HandleSignature))
			require.NoError(t, s.Commit(first))

			require.ErrorIs(t, s.ConsumePendingGrant(late, g.Kind, g.HandleSignature), pending.ErrStateChanged)
		} else {
			// SQLite's write transactions take the lock when they begin: the second waits for the first.
			first, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.NoError(t, s.ConsumePendingGrant(first, g.Kind, g.HandleSignature))
			require.NoError(t, s.Commit(first))
			second, err := s.BeginTX(ctx)
			require.NoError(t, err)
			require.ErrorIs(t, s.ConsumePendingGrant(second, g.Kind, g.HandleSignature), pending.ErrStateChanged)
			require.NoError(t, s.Rollback(second))
		}
		require.Equal(t, pending.StateConsumed, e.deviceState(t, g.Request.GetID()))
	})
}
