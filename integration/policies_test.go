package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/secevent"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// The attack scenarios of RFC 10027 (BCP 247, "Cross-Device Flows: Security Best Current Practice")
// played against the example server on SQLite, over HTTP, with a real security event receiver: each
// time the policy stops the attack, and the grants it ends are announced.

// setReceiver is a Security Event Token receiver (RFC 8935 push): it keeps every SET it is sent.
type setReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	sets    []string
	arrived chan struct{}
}

func newSETReceiver(t *testing.T) *setReceiver {
	r := &setReceiver{arrived: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Header.Get("Content-Type") != secevent.TokenType && req.Header.Get("Content-Type") != "application/secevent+jwt" {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.sets = append(r.sets, string(body))
		r.mu.Unlock()
		r.arrived <- struct{}{}
		rw.WriteHeader(http.StatusAccepted) // RFC 8935 §2.2
	}))
	t.Cleanup(r.Close)
	return r
}

// wait drains the example's outbox (its own worker may be delivering too) and waits for n SETs.
func (r *setReceiver) wait(t *testing.T, e *env, n int) []string {
	t.Helper()
	_, err := e.srv.DrainOutbox(context.Background())
	require.NoError(t, err)
	for len(r.received()) < n {
		select {
		case <-r.arrived:
		case <-time.After(30 * time.Second): // a deadlock guard, not a speed assertion
			t.Fatalf("only %d of %d security event tokens arrived", len(r.received()), n)
		}
	}
	return r.received()
}

func (r *setReceiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sets...)
}

// policyEnv is the example on SQLite with a SET receiver, plus configure's changes.
func policyEnv(t *testing.T, configure func(*server.Options)) (*env, *setReceiver) {
	t.Helper()
	rcv := newSETReceiver(t)
	store, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := start(t, func(o *server.Options) {
		o.Store = store
		o.Policy.SecurityEventReceivers = []secevent.Receiver{{URL: rcv.URL + "/events", Audience: "https://photos.example.com"}}
		if configure != nil {
			configure(o)
		}
	})
	return e, rcv
}

// grantRevoked verifies a SET with the server's published keys and returns its one event.
func grantRevoked(t *testing.T, e *env, set string) secevent.GrantRevoked {
	t.Helper()
	resp, err := http.Get(e.url + "/.well-known/jwks.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	var keys jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&keys))
	jws, err := jose.ParseSigned(set)
	require.NoError(t, err)
	kid := jws.Signatures[0].Header.KeyID
	require.NotEmpty(t, keys.Key(kid), "the SET's key is in the server's JWKS")
	payload, err := jws.Verify(keys.Key(kid)[0])
	require.NoError(t, err)
	var claims struct {
		Iss    string                           `json:"iss"`
		Aud    any                              `json:"aud"`
		Events map[string]secevent.GrantRevoked `json:"events"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, e.url, claims.Iss)
	require.Len(t, claims.Events, 1)
	return claims.Events[secevent.EventGrantRevoked]
}

// TestRFC10027CodeMailedToMany plays example B1: an attacker starts a device flow and mails its user
// code to many people. The first accounts to open it see the request (with where it came from); past
// the limit (here two accounts) the code is burned: nobody can approve it any more, the attacker's
// device gets access_denied, and resource servers are told.
func TestRFC10027CodeMailedToMany(t *testing.T) {
	t.Parallel()
	e, rcv := policyEnv(t, func(o *server.Options) { o.Policy.Device.BurnAfterAccounts = 2 })
	status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, http.Header{"User-Agent": {"FreePrizeTV/1.0"}})
	require.Equal(t, http.StatusOK, status, "%v", da)
	link := "/device?user_code=" + url.QueryEscape(da["user_code"].(string))

	alice := e.browser("alice", "alice-password")
	status, page := alice.get(link)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "Connect <b>")
	require.Contains(t, page, "If you did not start this yourself")
	status, _ = e.browser("bob", "bob-password").get(link)
	require.Equal(t, http.StatusOK, status)

	status, page = e.browser("carol", "carol-password").get(link)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "That code does not match any device waiting to connect.")

	// alice, who saw it first, is too late too: the code is burned for everyone.
	status, page = alice.postForm("/device", url.Values{"csrf": {csrfOf(t, page)}, "user_code": {da["user_code"].(string)}, "action": {"approve"}})
	require.NotEqual(t, http.StatusOK, status, page)
	status, body := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "access_denied", body["error"])

	sets := rcv.wait(t, e, 1)
	require.Len(t, sets, 1)
	ev := grantRevoked(t, e, sets[0])
	require.Equal(t, pending.ReasonBurnedCode, ev.Reason)
	require.Equal(t, "demo-device", ev.ClientID)
}

// TestRFC10027BulkRequests plays example B4.1: a client sends authentication requests for many users
// at once, hoping some approve. Past the client's limit (here 3 per 15 minutes) requests are refused
// with 429 and reach nobody.
func TestRFC10027BulkRequests(t *testing.T) {
	t.Parallel()
	e, _ := policyEnv(t, func(o *server.Options) { o.Policy.CIBA.Initiation.PerClient = 3 })
	auth := http.Header{"Authorization": {basic("demo-ciba-poll", server.DemoCIBASecret)}}
	ask := func(user string) (int, map[string]interface{}) {
		return e.post("/oauth2/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {user}}, auth)
	}
	for _, user := range []string{"alice", "carol", "alice"} {
		status, body := ask(user)
		require.Equal(t, http.StatusOK, status, "%v", body)
	}
	status, body := ask("carol")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "temporarily_unavailable", body["error"])
	require.Contains(t, body["error_description"], "This client has started too many requests lately.")
	list, err := e.srv.CIBA().Decider.Pending(context.Background(), "carol")
	require.NoError(t, err)
	require.Len(t, list, 1, "the refused request never reached carol")
}

// TestRFC10027PromptFlood plays example B9: a client sends request after request to one person at
// night until they approve one to make it stop. The sixth within 15 minutes is refused and never
// shown; the person reports one of those that got through ("I did not ask for this"), which denies
// it, records it as suspicious and announces it.
func TestRFC10027PromptFlood(t *testing.T) {
	t.Parallel()
	e, rcv := policyEnv(t, nil)
	auth := http.Header{"Authorization": {basic("demo-ciba-poll", server.DemoCIBASecret)}}
	var ids []string
	for range 5 {
		status, body := e.post("/oauth2/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"carol"}}, auth)
		require.Equal(t, http.StatusOK, status, "%v", body)
		ids = append(ids, body["auth_req_id"].(string))
	}
	status, body := e.post("/oauth2/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"carol"}}, auth)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "temporarily_unavailable", body["error"])

	carol := e.browser("carol", "carol-password")
	status, page := carol.get("/ciba")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 5, strings.Count(page, `class="box ciba-request"`), "five requests reached carol, not six")
	m := regexp.MustCompile(`name="ref" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m)
	ref := m[1]
	status, page = carol.postForm("/ciba", url.Values{"csrf": {csrfOf(t, page)}, "ref": {ref}, "action": {"report"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Denied and reported.")
	require.Equal(t, 4, strings.Count(page, `class="box ciba-request"`))

	denied := 0
	for _, id := range ids {
		_, body := e.post("/oauth2/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {id}}, auth)
		if body["error"] == "access_denied" {
			denied++
		}
	}
	require.Equal(t, 1, denied, "the client learns only that this one was denied")

	sets := rcv.wait(t, e, 1)
	require.Len(t, sets, 1)
	require.Equal(t, pending.ReasonReported, grantRevoked(t, e, sets[0]).Reason)
}

// TestAdminFlag: an operator flags a redeemed device grant by its request ID; its tokens stop working
// at once and resource servers are told; unknown IDs and grants are refused clearly.
func TestAdminFlag(t *testing.T) {
	t.Parallel()
	e, rcv := policyEnv(t, nil)
	alice := e.browser("alice", "alice-password")
	deviceCode, _ := alertDevice(t, e, alice)
	status, tok := e.poll("demo-device", deviceCode)
	require.Equal(t, http.StatusOK, status, "%v", tok)
	access := tok["access_token"].(string)
	require.True(t, tokenActive(t, e, access))

	var requestID string
	for _, ev := range ksAuditEvents(t, e) {
		if ev.Type == "https://github.com/fosite-contrib/grants/event/pending/redeemed" {
			requestID = ev.RequestID
		}
	}
	require.NotEmpty(t, requestID)

	status, body := e.admin("/admin/flag", url.Values{"grant": {"device"}, "request_id": {requestID}, "reason": {"staff"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.False(t, tokenActive(t, e, access))
	sets := rcv.wait(t, e, 1)
	require.Len(t, sets, 1)
	ev := grantRevoked(t, e, sets[0])
	require.True(t, ev.TokensRevoked)
	require.Equal(t, requestID, ev.RequestID)

	status, body = e.admin("/admin/flag", url.Values{"grant": {"device"}, "request_id": {"no-such-id"}})
	require.Equal(t, http.StatusNotFound, status, "%v", body)
	status, body = e.admin("/admin/flag", url.Values{"grant": {"photos"}, "request_id": {requestID}})
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	require.Equal(t, "invalid_request", body["error"])
}

// placeTable is a pending.Locator over a fixed table (the geoip package's tests run its MaxMind reader
// over databases they generate; here the page is what is under test).
type placeTable map[string]pending.Place

func (p placeTable) Locate(_ context.Context, a netip.Addr) (pending.Place, error) {
	return p[a.String()], nil
}

// TestApprovalPageSaysWhere: with a locator, the approval page says where the request came from, in
// words, beside the address; the device and the person are on one network here, so no warning.
func TestApprovalPageSaysWhere(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *server.Options) {
		o.Policy.Locator = placeTable{"127.0.0.1": {City: "Springfield", Region: "Illinois", CountryName: "United States", ASN: 64500, Organization: "Home ISP"}}
	})
	status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", da)
	status, page := e.browser("alice", "alice-password").get("/device?user_code=" + url.QueryEscape(da["user_code"].(string)))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, `near <b data-fact="place">Springfield, Illinois, United States, Home ISP</b>`)
	require.NotContains(t, page, `id="other-network"`)
}
