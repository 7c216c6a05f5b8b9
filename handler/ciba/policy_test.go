package ciba_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The cross-device policies of RFC 10027 on CIBA.

// recorder is an audit.Sink that keeps what it is given.
type recorder struct{ events []audit.Event }

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.events = append(r.events, e)
	return nil
}

// TestPolicyPromptFlood plays RFC 10027's example B9: a client sends request after request for one user,
// hoping they approve one to make it stop. By default the sixth within 15 minutes is refused with 429
// and Retry-After, and it never reaches the user's device; other users are not affected.
func TestPolicyPromptFlood(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	f := newFixture(t, func(o *ciba.Options) {
		o.Policy = pending.Policy{} // the defaults, which the fixture turns off for its other tests
		o.Audit = rec
	})
	for i := range 5 {
		f.start(t, pollClient, form("scope", "openid", "login_hint", "alice", "binding_message", "M"+string(rune('0'+i))))
	}
	require.Equal(t, 5, f.ad.count())
	res := f.authorize(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Body)
	require.Equal(t, "temporarily_unavailable", res.Error(t))
	require.Equal(t, "900", res.Header.Get("Retry-After"))
	require.Contains(t, res.String(t, "error_description"), "This user has been asked too often lately.")
	require.Equal(t, 5, f.ad.count(), "the refused request did not reach alice")
	refused := rec.of(audit.EventPolicyRefused) // beside the five requests' own events
	require.Len(t, refused, 1)
	require.Equal(t, pending.PolicyRateLimit, refused[0].Data["policy"])
	require.Equal(t, "alice", refused[0].Subject)

	// Another client cannot go around it: the limit is the user's.
	require.Equal(t, http.StatusTooManyRequests, f.authorize(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "tok-123456")).Status)
	f.clock.Advance(15 * time.Minute)
	f.start(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	require.Equal(t, 6, f.ad.count(), "the window passed")
}

// TestPolicyOneOpenRequest: with OneOpenRequest, a client's second request for a user waits for the
// first to be answered.
func TestPolicyOneOpenRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *ciba.Options) { o.Policy.OneOpenRequest = true })
	first := f.start(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	res := f.authorize(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	require.Equal(t, http.StatusTooManyRequests, res.Status)
	require.Equal(t, "temporarily_unavailable", res.Error(t))
	require.Equal(t, "600", res.Header.Get("Retry-After"), "until the open request expires")
	require.Equal(t, 1, f.ad.count())
	f.start(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "tok-123456"))

	require.NoError(t, f.grant.Decider.Deny(context.Background(), f.ad.ns[0].Ref, "alice"))
	require.Equal(t, "access_denied", f.poll(t, pollClient, first.AuthReqID).Error(t))
	f.start(t, pollClient, form("scope", "openid", "login_hint", "alice"))
}

// racingStore is the memory store, where storing the first pending grant first runs another request
// to its end: as if another instance stored a request between this one's check and its own store.
type racingStore struct {
	*memory.MemoryStore
	raced atomic.Bool
	other func()
}

func (s *racingStore) CreatePendingGrant(ctx context.Context, g *pending.Grant) error {
	if !s.raced.Swap(true) {
		s.other()
	}
	return s.MemoryStore.CreatePendingGrant(ctx, g)
}

// TestPolicyOneOpenRequestRace: two requests of one client for one user that both pass the check before
// either is stored do not both stay open. The later-stored one is withdrawn — 429, nothing sent to the
// user's device, not among the user's waiting requests — and the earlier one goes on.
func TestPolicyOneOpenRequestRace(t *testing.T) {
	t.Parallel()
	store := &racingStore{MemoryStore: memory.New()}
	f := newFixtureOn(t, func(o *ciba.Options) { o.Policy.OneOpenRequest = true }, store)
	var other *grantstest.Response
	store.other = func() { other = f.authorize(t, pollClient, form("scope", "openid", "login_hint", "alice")) }

	res := f.authorize(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	require.Equal(t, http.StatusOK, other.Status, "body: %s", other.Body)
	require.Equal(t, http.StatusTooManyRequests, res.Status, "body: %s", res.Body)
	require.Equal(t, "temporarily_unavailable", res.Error(t))
	require.Equal(t, 1, f.ad.count(), "only the open request reached the device")
	open, err := f.grant.Decider.Pending(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, open, 1, "one request waits for alice")
}

// TestPolicyOneOpenRequestUnderLoad: 64 requests of one client for one user at once (rate limits out of
// the way) open at most one request; the others get 429, none a server error, and only the open one
// reaches the user's device.
func TestPolicyOneOpenRequestUnderLoad(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *ciba.Options) {
		o.Policy.OneOpenRequest = true
		o.Policy.Initiation = pending.InitiationLimits{PerClient: -1, PerAddress: -1, PerUser: -1}
	})
	const n = 64
	statuses := make([]int, n)
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			statuses[i] = f.authorize(t, pollClient, form("scope", "openid", "login_hint", "alice")).Status
		}()
	}
	close(begin)
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	require.LessOrEqual(t, counts[http.StatusOK], 1, "%v", counts)
	require.Equal(t, n, counts[http.StatusOK]+counts[http.StatusTooManyRequests], "%v", counts)
	require.Equal(t, counts[http.StatusOK], f.ad.count())
	open, err := f.grant.Decider.Pending(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, open, counts[http.StatusOK])
}

// TestPolicyFallbackForNamedAccount: when the hint names an account without a device, only that
// account may complete the enrolment fallback — alice cannot take a request meant for bob (and the
// client would have received alice's tokens). The authentication-device API never sees fallback
// requests.
func TestPolicyFallbackForNamedAccount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	v := f.grant.Enrollment
	a := f.start(t, fallbackClient, form("scope", "openid", "login_hint", "bob"))
	require.NotEmpty(t, a.UserCode)

	e, err := v.Lookup(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1", Account: "alice"})
	require.NoError(t, err)
	require.False(t, e.MayApprove("alice"))
	require.True(t, e.MayApprove("bob"))
	_, err = v.Approve(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1", Account: "alice"}, pending.Decision{Subject: "alice", Session: session("alice")})
	require.ErrorIs(t, err, ciba.ErrOtherAccount)
	require.Empty(t, f.dir.enrolls, "nothing was enrolled")
	list, err := f.grant.Decider.Pending(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, list, "a fallback request is decided through its code only")

	_, err = v.Approve(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1", Account: "bob"}, pending.Decision{Subject: "bob", Session: session("bob")})
	require.NoError(t, err)
	f.clock.Advance(5 * time.Second)
	res := f.poll(t, fallbackClient, a.AuthReqID)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, "bob", idTokenClaims(t, res.String(t, "id_token"))["sub"])

	// A hint naming nobody known keeps the same answer shape, and whoever completes it is the user.
	anon := f.start(t, fallbackClient, form("scope", "openid", "login_hint", "nobody@example.com"))
	require.NotEmpty(t, anon.UserCode)
	e, err = v.Lookup(ctx, anon.UserCode, pending.Caller{Address: "198.51.100.1", Account: "alice"})
	require.NoError(t, err)
	require.True(t, e.MayApprove("alice"))
}

// TestPolicyReport: "I did not ask for this" on the authentication device denies the request (a ping
// client is pinged and then gets access_denied), flags it, audits it and announces it.
func TestPolicyReport(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	events := &announcements{}
	f := newFixture(t, func(o *ciba.Options) {
		o.Audit = rec
		o.Policy.Events = events
	})
	ctx := context.Background()
	a := f.start(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "tok-123456"))
	n := f.ad.last(t)
	require.NoError(t, f.grant.Decider.Report(ctx, n.Ref, "alice"))
	_, err := f.worker.DrainOnce(ctx)
	require.NoError(t, err)
	pings := f.cb.all()
	require.Len(t, pings, 1)
	require.Equal(t, a.AuthReqID, pings[0].Body["auth_req_id"])
	require.Equal(t, "access_denied", f.poll(t, pingClient, a.AuthReqID).Error(t))
	require.Equal(t, audit.EventFlagged, rec.events[len(rec.events)-1].Type)
	got := events.list()
	require.Len(t, got, 1)
	require.Equal(t, pending.ReasonReported, got[0].Reason)
	require.Equal(t, "alice", got[0].By)
	require.ErrorIs(t, f.grant.Decider.Report(ctx, n.Ref, "alice"), ciba.ErrRequestNotFound, "it is no longer pending")

	// The operator's API: an approved request, flagged by its request ID.
	b := f.start(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	m := f.approveLast(t)
	require.NoError(t, f.grant.Flag(ctx, m.RequestID, pending.ReasonAdministrator, "admin"))
	f.clock.Advance(5 * time.Second)
	require.Equal(t, "expired_token", f.poll(t, pollClient, b.AuthReqID).Error(t), "an approved request ends unredeemed")
}

// announcements records what a pending.SecurityEvents is told.
type announcements struct {
	mu sync.Mutex
	rs []pending.Remediation
}

func (a *announcements) Announce(_ context.Context, r pending.Remediation) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rs = append(a.rs, r)
	return nil
}

func (a *announcements) list() []pending.Remediation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]pending.Remediation(nil), a.rs...)
}
