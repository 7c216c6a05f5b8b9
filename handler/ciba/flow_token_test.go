package ciba_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/internal/grantstest"
)

// idTokenClaims verifies an ID token with the server's key and returns its claims.
func idTokenClaims(t *testing.T, token string) map[string]interface{} {
	t.Helper()
	jws, err := jose.ParseSigned(token)
	require.NoError(t, err)
	payload, err := jws.Verify(&grantstest.Key(t).PublicKey)
	require.NoError(t, err)
	var m map[string]interface{}
	require.NoError(t, json.Unmarshal(payload, &m))
	return m
}

func aliceForm() []string {
	return []string{"scope", "openid profile offline_access", "login_hint", "alice"}
}

func TestTokenPoll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.start(t, pollClient, form(aliceForm()...))

	res := f.poll(t, pollClient, a.AuthReqID)
	require.Equal(t, "authorization_pending", res.Error(t))
	grantstest.Golden(t, "token_authorization_pending", res, nil)

	res = f.poll(t, pollClient, a.AuthReqID)
	require.Equal(t, "slow_down", res.Error(t), "a poll before the interval is too soon")
	grantstest.Golden(t, "token_slow_down", res, nil)

	f.clock.Advance(5 * time.Second)
	res = f.poll(t, pollClient, a.AuthReqID)
	require.Equal(t, "slow_down", res.Error(t), "the interval grew by 5 seconds to 10")
	f.clock.Advance(15 * time.Second)
	require.Equal(t, "authorization_pending", f.poll(t, pollClient, a.AuthReqID).Error(t))

	n := f.approveLast(t)
	f.clock.Advance(15 * time.Second)
	res = f.poll(t, pollClient, a.AuthReqID)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	m := res.JSON(t)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	require.Equal(t, "bearer", m["token_type"])
	require.NotEmpty(t, m["access_token"])
	require.NotEmpty(t, m["refresh_token"], "offline_access was granted")
	claims := idTokenClaims(t, m["id_token"].(string))
	require.Equal(t, "alice", claims["sub"])
	require.Equal(t, issuer, claims["iss"])
	require.Equal(t, a.AuthReqID, claims[ciba.AuthReqIDClaim])
	require.NotEmpty(t, claims["at_hash"])
	require.Equal(t, "alice", n.Subject)
	grantstest.Golden(t, "token_success", res, map[string]string{
		m["access_token"].(string): "<access_token>", m["refresh_token"].(string): "<refresh_token>", m["id_token"].(string): "<id_token>",
	})

	// Single use: a replay is invalid_grant and revokes what the first redemption issued.
	res = f.poll(t, pollClient, a.AuthReqID)
	require.Equal(t, "invalid_grant", res.Error(t))
	grantstest.Golden(t, "token_replayed", res, nil)
	refresh := f.do(t, req{path: tokenPath, user: pollClient, pass: secret,
		form: form("grant_type", "refresh_token", "refresh_token", m["refresh_token"].(string))})
	require.NotEqual(t, http.StatusOK, refresh.Status, "the refresh token was revoked: %s", refresh.Body)
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()

	denied := f.start(t, pollClient, form(aliceForm()...))
	require.NoError(t, f.grant.Decider.Deny(ctx, f.ad.last(t).Ref, "alice"))
	expired := f.start(t, pollClient, form("scope", "openid", "login_hint", "alice", "requested_expiry", "10"))
	other := f.start(t, pollClient, form(aliceForm()...))
	f.approveLast(t)
	pushed := f.start(t, pushClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "tok"))
	f.clock.Advance(11 * time.Second)

	for _, tc := range []struct {
		name, client, id, error string
	}{
		{"access_denied", pollClient, denied.AuthReqID, "access_denied"},
		{"expired_token", pollClient, expired.AuthReqID, "expired_token"},
		{"other_client", pingClient, other.AuthReqID, "invalid_grant"},
		{"garbage_auth_req_id", pollClient, "garbage", "invalid_grant"},
		{"forged_auth_req_id", pollClient, strings.Repeat("A", 43) + "." + strings.Repeat("B", 43), "invalid_grant"},
		{"missing_auth_req_id", pollClient, "", "invalid_request"},
		{"push_client", pushClient, pushed.AuthReqID, "unauthorized_client"},
		{"client_without_ciba_grant", noCIBAClient, other.AuthReqID, "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.poll(t, tc.client, tc.id)
			require.Equal(t, http.StatusBadRequest, res.Status, "body: %s", res.Body)
			require.Equal(t, tc.error, res.Error(t))
			grantstest.Golden(t, "token_"+tc.name, res, nil)
		})
	}
	// The approved request survived the other client's attempt.
	require.Equal(t, http.StatusOK, f.poll(t, pollClient, other.AuthReqID).Status)
}

func TestTokenConcurrentRedemption(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.start(t, pollClient, form(aliceForm()...))
	f.approveLast(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.poll(t, pollClient, a.AuthReqID)
			mu.Lock()
			codes[res.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{200: 1, 400: 7}, codes)
}

func TestTokenPing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.start(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "ping-token-123"))
	require.EqualValues(t, 5, a.Interval)
	require.Equal(t, "authorization_pending", f.poll(t, pingClient, a.AuthReqID).Error(t))
	f.approveLast(t)

	// The ping goes out through the outbox: POST {"auth_req_id"} with the Bearer token.
	n, err := f.worker.DrainOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got := f.cb.all()
	require.Len(t, got, 1)
	require.Equal(t, "/cb/"+pingClient, got[0].Path)
	require.Equal(t, "Bearer ping-token-123", got[0].Authorization)
	require.Equal(t, "application/json", got[0].ContentType)
	require.Equal(t, map[string]interface{}{"auth_req_id": a.AuthReqID}, got[0].Body)

	f.clock.Advance(5 * time.Second)
	res := f.poll(t, pingClient, a.AuthReqID)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
}

func TestPingAfterDenial(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.start(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "ping-token-123"))
	require.NoError(t, f.grant.Decider.Deny(context.Background(), f.ad.last(t).Ref, "alice"))
	_, err := f.worker.DrainOnce(context.Background())
	require.NoError(t, err)
	got := f.cb.all()
	require.Len(t, got, 1)
	require.Equal(t, map[string]interface{}{"auth_req_id": a.AuthReqID}, got[0].Body)
	require.Equal(t, "access_denied", f.poll(t, pingClient, a.AuthReqID).Error(t))
}

func TestPingNotRetriedAfter401(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.cb.status = http.StatusUnauthorized
	a := f.start(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "ping-token-123"))
	f.approveLast(t)
	_, err := f.worker.DrainOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, f.poll(t, pingClient, a.AuthReqID).Status, "the flow still completes")
	f.clock.Advance(time.Hour)
	_, err = f.worker.DrainOnce(context.Background())
	require.NoError(t, err)
	require.Len(t, f.cb.all(), 1, "a 401 is not retried")
}
