package integration

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/example/server"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// ksDevice starts a device authorization request of the kiosk phone app for an account.
func ksDevice(t *testing.T, e *env, clientID, loginHint string) map[string]interface{} {
	t.Helper()
	form := url.Values{"client_id": {clientID}, "scope": {"openid profile offline_access"}}
	if loginHint != "" {
		form.Set("login_hint", loginHint)
	}
	status, body := e.post("/oauth2/device/auth", form, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	return body
}

// ksApprove posts the staff page's approval form.
func ksApprove(t *testing.T, staff *browser, loginHint, requestID, userCode, method string) (int, string) {
	t.Helper()
	_, page := staff.get("/kiosk?login_hint=" + url.QueryEscape(loginHint))
	return staff.postForm("/kiosk", url.Values{
		"csrf": {csrfOf(t, page)}, "login_hint": {loginHint}, "request_id": {requestID}, "user_code": {userCode},
		"proofing_method": {method}, "proofing_reference": {"ID ...4711"}, "action": {"approve"},
	})
}

// ksPending lists an account's pending requests through the admin API.
func ksPending(t *testing.T, e *env, actor, loginHint string) (int, map[string]interface{}) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/admin/device/pending?"+url.Values{"actor": {actor}, "login_hint": {loginHint}}.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

// ksAuditEvents decodes the example's audit log.
func ksAuditEvents(t *testing.T, e *env) []audit.Event {
	t.Helper()
	var out []audit.Event
	v := &audit.Verifier{Keys: e.srv.AuditKeys(), Visit: func(_ int64, ev audit.Event) error {
		out = append(out, ev)
		return nil
	}}
	_, err := v.Verify(context.Background(), e.srv.AuditStorage())
	require.NoError(t, err)
	return out
}

func ksAuditVerify(t *testing.T, e *env) (int, map[string]interface{}) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/admin/audit/verify", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

// TestKioskStaffApproval is the staffed-kiosk story (seed 001): the phone app asks with the account
// identifier and gets a week-long code; days later a staff member finds the pending request by
// account, checks the ID and the code the person reads out, and approves; the grant is bound to the
// customer, not to the staff member; the phone has another week to pick the token up; every step is
// in the audit log, which verifies.
func TestKioskStaffApproval(t *testing.T) {
	t.Parallel()
	e := start(t)
	da := ksDevice(t, e, "demo-kiosk-app", "alice@example.com")
	require.EqualValues(t, 7*24*3600, da["expires_in"], "the kiosk app's codes live a week, and expires_in says so")
	userCode := da["user_code"].(string)

	e.clock.Add(6 * 24 * time.Hour) // the customer reaches the kiosk six days later

	staff := e.browser("staff", "staff-password")
	status, page := staff.get("/kiosk?login_hint=" + url.QueryEscape("alice@example.com"))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "demo-kiosk-app")
	require.Contains(t, page, "Keep access while you are away", "the scopes are listed")
	require.Contains(t, page, "Go-http-client", "the device information is listed")
	require.Contains(t, page, "6 days ago", "the request's age is listed in words")
	require.NotContains(t, page, userCode, "the listing never shows the user code")
	require.NotContains(t, page, strings.ReplaceAll(userCode, "-", ""))

	// The admin API lists the same, for a staff actor.
	status, list := ksPending(t, e, "staff", "alice@example.com")
	require.Equal(t, http.StatusOK, status, "%v", list)
	pendingList := list["pending"].([]interface{})
	require.Len(t, pendingList, 1)
	item := pendingList[0].(map[string]interface{})
	require.Equal(t, "demo-kiosk-app", item["client_id"])
	require.EqualValues(t, 6*24*3600, item["age_seconds"])
	requestID := item["request_id"].(string)

	status, page = ksApprove(t, staff, "alice@example.com", requestID, strings.ToLower(userCode), "id_card")
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Device approved")

	// Twelve days after the request (beyond the code's week) but within the pickup week, the phone
	// comes online and redeems.
	e.clock.Add(6 * 24 * time.Hour)
	status, tok := e.poll("demo-kiosk-app", da["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "%v", tok)
	claims := ksIDTokenClaims(t, e, tok["id_token"].(string))
	require.Equal(t, "alice", claims["sub"], "the grant is bound to the proofed customer")
	require.Equal(t, map[string]interface{}{"sub": "staff"}, claims["act"], "the staff member is the actor (RFC 8693 act)")
	require.Equal(t, "id_card", claims["proofing_method"])
	require.NotContains(t, tok["id_token"], "4711", "the ID reference stays in the audit log")

	// The audit log has the approval (customer, staff, proofing) and the redemption, and verifies.
	events := ksAuditEvents(t, e)
	require.Len(t, events, 2)
	require.Equal(t, audit.EventApproved, events[0].Type)
	require.Equal(t, "alice", events[0].Subject)
	require.Equal(t, "staff", events[0].Actor)
	require.Equal(t, "demo-kiosk-app", events[0].ClientID)
	require.Equal(t, requestID, events[0].RequestID)
	require.Equal(t, "id_card", events[0].Data["proofing"])
	require.Equal(t, "ID ...4711", events[0].Data["proofing_reference"])
	require.Equal(t, "kiosk", events[0].Data["method"])
	require.Equal(t, audit.EventRedeemed, events[1].Type)
	require.Equal(t, "alice", events[1].Subject)
	status, rep := ksAuditVerify(t, e)
	require.Equal(t, http.StatusOK, status, "%v", rep)
	require.Equal(t, true, rep["valid"])
	require.EqualValues(t, 2, rep["records"])
}

// TestKioskPickupWindowEnds: after approval the device has the pickup window, not forever.
func TestKioskPickupWindowEnds(t *testing.T) {
	t.Parallel()
	e := start(t)
	da := ksDevice(t, e, "demo-kiosk-app", "bob")
	status, list := ksPending(t, e, "staff", "bob")
	require.Equal(t, http.StatusOK, status)
	rid := list["pending"].([]interface{})[0].(map[string]interface{})["request_id"].(string)
	status, body := e.admin("/admin/device/kiosk/approve", url.Values{
		"actor": {"staff"}, "login_hint": {"bob"}, "request_id": {rid}, "user_code": {da["user_code"].(string)}, "proofing_method": {"passport"},
	})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "approved", body["status"])
	e.clock.Add(7*24*time.Hour + time.Second)
	status, body = e.poll("demo-kiosk-app", da["device_code"].(string))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "expired_token", body["error"])
	status, body = e.poll("demo-kiosk-app", da["device_code"].(string))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "expired_token", body["error"])

	// The expiry is audited once, however often the device polls.
	events := ksAuditEvents(t, e)
	require.Len(t, events, 2)
	require.Equal(t, audit.EventApproved, events[0].Type)
	require.Equal(t, audit.EventExpired, events[1].Type)
	require.Equal(t, "approved", events[1].Data["state"])
	require.Equal(t, "bob", events[1].Subject)
}

// TestKioskBadInput: every refusal is clear and changes nothing: the request stays pending, the
// audit log stays empty.
func TestKioskBadInput(t *testing.T) {
	t.Parallel()
	e := start(t)
	da := ksDevice(t, e, "demo-kiosk-app", "alice")
	other := ksDevice(t, e, "demo-kiosk-app", "bob")
	code := da["user_code"].(string)
	_, list := ksPending(t, e, "staff", "alice")
	rid := list["pending"].([]interface{})[0].(map[string]interface{})["request_id"].(string)

	staff := e.browser("staff", "staff-password")
	alice := e.browser("alice", "alice-password")

	t.Run("non-staff user on the staff page", func(t *testing.T) {
		status, page := alice.get("/kiosk?login_hint=alice")
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, page, "Only kiosk staff")
		require.NotContains(t, page, rid)
	})
	t.Run("non-staff user posting an approval with their own CSRF token", func(t *testing.T) {
		_, page := alice.get("/kiosk")
		status, body := alice.postForm("/kiosk", url.Values{"csrf": {csrfOf(t, page)}, "login_hint": {"alice"}, "request_id": {rid},
			"user_code": {code}, "proofing_method": {"id_card"}, "action": {"approve"}})
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, body, "Only kiosk staff may")
	})
	t.Run("forged staff request without the CSRF token", func(t *testing.T) {
		status, body := staff.postForm("/kiosk", url.Values{"login_hint": {"alice"}, "request_id": {rid}, "user_code": {code},
			"proofing_method": {"id_card"}, "action": {"approve"}})
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, body, "The form expired")
	})
	t.Run("forged staff request with another user's CSRF token", func(t *testing.T) {
		_, page := alice.get("/kiosk")
		status, _ := staff.postForm("/kiosk", url.Values{"csrf": {csrfOf(t, page)}, "login_hint": {"alice"}, "request_id": {rid},
			"user_code": {code}, "proofing_method": {"id_card"}, "action": {"approve"}})
		require.Equal(t, http.StatusForbidden, status)
	})
	t.Run("unknown account", func(t *testing.T) {
		status, page := staff.get("/kiosk?login_hint=mallory")
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, page, "No account has that identifier")
		status, body := ksPending(t, e, "staff", "mallory")
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_request", body["error"])
	})
	t.Run("wrong code", func(t *testing.T) {
		status, page := ksApprove(t, staff, "alice", rid, "BCDF-GHJK", "id_card")
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, page, "does not match a pending request of this account")
	})
	t.Run("another account's code", func(t *testing.T) {
		status, page := ksApprove(t, staff, "alice", rid, other["user_code"].(string), "id_card")
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, page, "does not match a pending request of this account")
	})
	t.Run("no ID check", func(t *testing.T) {
		status, page := ksApprove(t, staff, "alice", rid, code, "")
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, page, "how the person was identified")
	})
	t.Run("admin API: actor is not staff", func(t *testing.T) {
		status, body := ksPending(t, e, "alice", "alice")
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "access_denied", body["error"])
		status, body = e.admin("/admin/device/kiosk/approve", url.Values{"actor": {"alice"}, "login_hint": {"alice"}, "user_code": {code}, "proofing_method": {"id_card"}})
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "access_denied", body["error"])
		status, body = e.admin("/admin/device/kiosk/approve", url.Values{"login_hint": {"alice"}, "user_code": {code}, "proofing_method": {"id_card"}})
		require.Equal(t, http.StatusForbidden, status, "no actor at all")
		require.Equal(t, "access_denied", body["error"])
	})
	t.Run("admin API without the admin token", func(t *testing.T) {
		status, body := e.post("/admin/device/kiosk/deny", url.Values{"actor": {"staff"}, "login_hint": {"alice"}, "request_id": {rid}}, nil)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "invalid_token", body["error"])
	})
	t.Run("deny a request of another account", func(t *testing.T) {
		status, body := e.admin("/admin/device/kiosk/deny", url.Values{"actor": {"staff"}, "login_hint": {"bob"}, "request_id": {rid}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_user_code", body["error"])
	})

	// Nothing changed: the request is still pending and listed, and nothing was audited.
	status, body := e.poll("demo-kiosk-app", da["device_code"].(string))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "authorization_pending", body["error"])
	_, list = ksPending(t, e, "staff", "alice")
	require.Len(t, list["pending"], 1)
	require.Empty(t, ksAuditEvents(t, e))

	// Staff may deny from the listing (no code needed); it is audited with the customer and the staff member.
	status, body = e.admin("/admin/device/kiosk/deny", url.Values{"actor": {"staff"}, "login_hint": {"alice"}, "request_id": {rid}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, body = e.poll("demo-kiosk-app", da["device_code"].(string))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "access_denied", body["error"])
	events := ksAuditEvents(t, e)
	require.Len(t, events, 1)
	require.Equal(t, audit.EventDenied, events[0].Type)
	require.Equal(t, "alice", events[0].Subject)
	require.Equal(t, "staff", events[0].Actor)
}

// TestAuditLogTamperEvident runs the flow on SQLite, then edits a stored record: the verification
// endpoint that passed on the untouched log now fails, naming the record.
func TestAuditLogTamperEvident(t *testing.T) {
	t.Parallel()
	var store *sqlstore.Store
	e := start(t, func(o *server.Options) {
		s, err := sqlstore.Open(context.Background(), "file:"+filepath.Join(t.TempDir(), "grants.db"), sqlstore.WithClock(o.Now))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		store = s
		o.Store = s
	})
	for _, hint := range []string{"alice", "bob"} {
		da := ksDevice(t, e, "demo-kiosk-app", hint)
		_, list := ksPending(t, e, "staff", hint)
		rid := list["pending"].([]interface{})[0].(map[string]interface{})["request_id"].(string)
		status, body := e.admin("/admin/device/kiosk/approve", url.Values{
			"actor": {"staff"}, "login_hint": {hint}, "request_id": {rid}, "user_code": {da["user_code"].(string)}, "proofing_method": {"id_card"},
		})
		require.Equal(t, http.StatusOK, status, "%v", body)
		status, body = e.poll("demo-kiosk-app", da["device_code"].(string))
		require.Equal(t, http.StatusOK, status, "%v", body)
	}
	status, rep := ksAuditVerify(t, e)
	require.Equal(t, http.StatusOK, status, "%v", rep)
	require.Equal(t, true, rep["valid"])
	require.EqualValues(t, 4, rep["records"])

	// The offline check (the audit-verify command) needs only the public keys.
	req, err := http.NewRequest(http.MethodGet, e.url+"/admin/audit/jwks", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	jwks, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.NotContains(t, string(jwks), `"d"`, "no private key material")
	offline, err := server.VerifyAuditLog(context.Background(), store, jwks, "")
	require.NoError(t, err)
	require.EqualValues(t, 4, offline.Records)
	require.Equal(t, rep["head"], offline.Head.String())

	// Someone with database access rewrites the second approval to name another customer.
	var token string
	require.NoError(t, store.DB().QueryRow("SELECT token FROM audit_records WHERE seq = 3").Scan(&token))
	parts := strings.Split(token, ".")
	payload := []byte(parts[1])
	payload[len(payload)/2] ^= 1
	_, err = store.DB().Exec("UPDATE audit_records SET token = ? WHERE seq = 3", parts[0]+"."+string(payload)+"."+parts[2])
	require.NoError(t, err)

	status, rep = ksAuditVerify(t, e)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, false, rep["valid"])
	require.EqualValues(t, 2, rep["verified_records"], "the records before the edit still verify")
	require.Contains(t, rep["error"], "3")
	_, err = server.VerifyAuditLog(context.Background(), store, jwks, "")
	require.ErrorIs(t, err, audit.ErrTampered)
}

// ksIDTokenClaims checks an ID token's signature against the JWKS and returns all its claims (the
// grants' clock may be days ahead, so times are not checked here).
func ksIDTokenClaims(t *testing.T, e *env, raw string) map[string]interface{} {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/.well-known/jwks.json", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, jsonDecode(resp.Body, &set))
	tok, err := josejwt.ParseSigned(raw)
	require.NoError(t, err)
	keys := set.Key(tok.Headers[0].KeyID)
	require.Len(t, keys, 1)
	claims := map[string]interface{}{}
	require.NoError(t, tok.Claims(keys[0].Key, &claims))
	return claims
}

// TestAuditLogUnderConcurrentRedemptions: many devices pick up their tokens at the same moment (SQLite).
// Their redemption events are appended in batches, each sealed by one signature; the log still verifies
// online and offline, and holds every approval and every redemption exactly once.
func TestAuditLogUnderConcurrentRedemptions(t *testing.T) {
	t.Parallel()
	var store *sqlstore.Store
	e := start(t, func(o *server.Options) {
		s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"), sqlstore.WithClock(o.Now))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		store = s
		o.Store = s
	})
	const n = 24
	codes := make([]string, n)
	for i := range codes {
		status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
		require.Equal(t, http.StatusOK, status, "%v", da)
		codes[i] = da["device_code"].(string)
		status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da["user_code"].(string)}, "subject": {"alice"}})
		require.Equal(t, http.StatusOK, status, "%v", body)
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i, dc := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = e.poll("demo-device", dc)
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		require.Equal(t, http.StatusOK, st, "device %d", i)
	}

	status, rep := ksAuditVerify(t, e)
	require.Equal(t, http.StatusOK, status, "%v", rep)
	require.Equal(t, true, rep["valid"])
	require.EqualValues(t, 2*n, rep["records"])

	counts := map[string]int{}
	v := &audit.Verifier{Keys: e.srv.AuditKeys(), Visit: func(_ int64, ev audit.Event) error {
		counts[ev.Type+" "+ev.RequestID]++
		return nil
	}}
	_, err := v.Verify(context.Background(), store)
	require.NoError(t, err)
	require.Len(t, counts, 2*n, "one approval and one redemption per device, none twice")
	for k, c := range counts {
		require.Equal(t, 1, c, k)
	}
	recs, err := store.ListAuditRecords(context.Background(), 0, 4*n)
	require.NoError(t, err)
	signed := 0
	for _, r := range recs {
		if !strings.HasPrefix(r.Token, "{") {
			signed++
		}
	}
	t.Logf("%d records under %d signatures", len(recs), signed)
}
