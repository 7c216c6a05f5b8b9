package memory

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/outbox"
)

var purgeT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sizes counts the entries of every map the store keeps.
func (s *MemoryStore) sizes() map[string]int {
	s.mu.RLock()
	out := map[string]int{"grants": len(s.grants), "user codes": len(s.userCodes), "attempts": len(s.attempts), "clients": len(s.clients),
		"grant queue": len(s.grantsExp.h), "attempt queue": len(s.attemptsExp.h)}
	s.mu.RUnlock()
	t := &s.tokens
	t.mu.RLock()
	out["codes"], out["access"], out["refresh"] = len(t.codes), len(t.access), len(t.refresh)
	out["pkce"], out["oidc"], out["par"], out["token grants"] = len(t.pkce), len(t.oidc), len(t.par), len(t.grants)
	out["token queues"] = len(t.codesExp.h) + len(t.accessExp.h) + len(t.refreshExp.h) + len(t.pkceExp.h) + len(t.oidcExp.h) + len(t.parExp.h) + len(t.grantsExp.h)
	t.mu.RUnlock()
	s.links.mu.Lock()
	out["ciba links"], out["link queue"] = len(s.links.links), len(s.links.expiries.h)
	s.links.mu.Unlock()
	s.kiosk.mu.Lock()
	out["single-use keys"], out["single-use queue"] = len(s.kiosk.once), len(s.kiosk.expiries.h)
	s.kiosk.mu.Unlock()
	s.jtis.mu.Lock()
	out["jtis"], out["jti heap"] = len(s.jtis.expires), len(s.jtis.byTime)
	s.jtis.mu.Unlock()
	s.outbox.mu.Lock()
	out["outbox"], out["outbox attempts"] = len(s.outbox.messages), len(s.outbox.attempts)
	s.outbox.mu.Unlock()
	return out
}

// fill stores n of everything a running server accumulates, each living ten minutes from purgeT0 (a
// device authorization, an OTP challenge, a CIBA request, their tokens, a client assertion, ...).
// Every fourth grant is consumed, every fourth one denied.
func fill(t testing.TB, s *MemoryStore, client fosite.Client, n int) {
	ctx := context.Background()
	exp := purgeT0.Add(10 * time.Minute)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%06d", i)
		req := fosite.NewRequest()
		req.ID = "req-" + id
		req.Client = client
		req.RequestedAt = purgeT0
		req.RequestedScope = fosite.Arguments{"openid", "offline_access"}
		req.Form = url.Values{"scope": {"openid offline_access"}}
		g := &pending.Grant{
			Kind: pending.KindDeviceCode, HandleSignature: "handle-" + id, UserCodeSignature: "user-" + id,
			Request: req, State: pending.StatePending, CreatedAt: purgeT0, ExpiresAt: exp, Interval: 5 * time.Second,
			Device: pending.DeviceInfo{RemoteAddr: "192.0.2.10", UserAgent: "tv/1.0"},
		}
		require.NoError(t, s.CreatePendingGrant(ctx, g))
		switch i % 4 {
		case 1:
			require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, pending.Decision{Approved: true, Subject: "alice",
				Session: &openid.DefaultSession{Subject: "alice"}, GrantedScopes: []string{"openid", "offline_access"}}, purgeT0))
			require.NoError(t, s.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature))
		case 2:
			require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, pending.Decision{Subject: "bob"}, purgeT0))
		}
		_, err := s.IncrementAttempts(ctx, "ip:192.0.2."+id, purgeT0, 15*time.Minute)
		require.NoError(t, err)

		sess := &openid.DefaultSession{Subject: "alice", ExpiresAt: map[fosite.TokenType]time.Time{
			fosite.AccessToken: exp, fosite.RefreshToken: exp, fosite.AuthorizeCode: exp, fosite.PushedAuthorizeRequestContext: exp}}
		tokReq := fosite.NewRequest()
		tokReq.ID, tokReq.Client, tokReq.Session = "tok-"+id, client, sess
		require.NoError(t, s.CreateAuthorizeCodeSession(ctx, "code-"+id, tokReq))
		require.NoError(t, s.CreatePKCERequestSession(ctx, "code-"+id, tokReq))
		require.NoError(t, s.CreateOpenIDConnectSession(ctx, "code-"+id, tokReq))
		require.NoError(t, s.CreateAccessTokenSession(ctx, "at-"+id, tokReq))
		require.NoError(t, s.CreateRefreshTokenSession(ctx, "rt-"+id, "at-"+id, tokReq))
		if i%4 == 3 {
			require.NoError(t, s.RevokeRefreshToken(ctx, tokReq.ID))
		}
		require.NoError(t, s.CreatePARSession(ctx, "urn:par:"+id, &fosite.AuthorizeRequest{Request: *tokReq}))
		require.NoError(t, s.SetClientAssertionJWT(ctx, "jti-"+id, exp))
		require.NoError(t, s.UseOnce(ctx, "once-"+id, exp, purgeT0))
		require.NoError(t, s.CreateCIBALink(ctx, &linkchannel.Link{Signature: "link-" + id, Ref: "ref-" + id, Subject: "alice",
			ClientID: client.GetID(), CreatedAt: purgeT0, ExpiresAt: exp}))
		require.NoError(t, s.EnqueueOutbox(ctx, outbox.Record{ID: "msg-" + id, Kind: "email", Target: "alice@example.com", Sealed: []byte("sealed"),
			CreatedAt: purgeT0, NotBefore: purgeT0, MaxAttempts: 3, NextAttemptAt: purgeT0}))
	}
	// Deliver every message.
	claimed, err := s.ClaimOutbox(ctx, purgeT0, -1, time.Minute)
	require.NoError(t, err)
	for _, r := range claimed {
		require.NoError(t, s.CompleteOutbox(ctx, r.ID, outbox.Attempt{Lease: r.Lease, Number: 1, StartedAt: purgeT0, At: purgeT0, Outcome: outbox.OutcomeDelivered}))
	}
}

// TestPurgeReturnsToBaseline: after everything a server stored has expired and the retention period
// has passed, Purge leaves every map as it was before (only the client remains); before that it keeps
// what must be kept.
func TestPurgeReturnsToBaseline(t *testing.T) {
	ctx := context.Background()
	s := New(WithClock(func() time.Time { return purgeT0 }))
	client := &fosite.DefaultClient{ID: "purge-client", Public: true}
	require.NoError(t, s.SetClient(ctx, client))
	baseline := s.sizes()
	const n = 2000
	fill(t, s, client, n)
	full := s.sizes()
	for name, size := range full {
		switch name {
		case "clients":
		case "token queues": // codes, PKCE, OpenID Connect, access, refresh, pushed requests
			require.Equal(t, 6*n, size, "%s after filling", name)
		default:
			require.Equal(t, n, size, "%s after filling", name)
		}
	}

	// Still live: nothing goes.
	deleted, err := s.Purge(ctx, purgeT0.Add(5*time.Minute))
	require.NoError(t, err)
	require.Zero(t, deleted)
	require.Equal(t, full, s.sizes())

	// Expired, within the retention: tokens, JWT IDs, counters and single-use keys go; what recognises a
	// replay stays.
	_, err = s.Purge(ctx, purgeT0.Add(16*time.Minute))
	require.NoError(t, err)
	mid := s.sizes()
	for _, gone := range []string{"access", "refresh", "pkce", "par", "jtis", "jti heap", "attempts", "attempt queue", "single-use keys", "single-use queue"} {
		require.Zero(t, mid[gone], "%s expired", gone)
	}
	for _, kept := range []string{"grants", "user codes", "codes", "oidc", "ciba links", "outbox", "outbox attempts"} {
		require.Equal(t, n, mid[kept], "%s are kept for the retention period", kept)
	}
	g, err := s.GetPendingGrant(ctx, pending.KindDeviceCode, "handle-000001", nil)
	require.NoError(t, err, "a spent grant is still recognised, so a replay is answered as one")
	require.Equal(t, pending.StateConsumed, g.State)
	_, err = s.GetAuthorizeCodeSession(ctx, "code-000001", nil)
	require.NoError(t, err)

	// Past the retention: back to the baseline.
	_, err = s.Purge(ctx, purgeT0.Add(10*time.Minute+24*time.Hour+time.Second))
	require.NoError(t, err)
	require.Equal(t, baseline, s.sizes())
}

// TestPurgeKeepsWhatIsAlive: entries that have not expired survive a purge, a user code a newer grant
// claimed stays with it when the expired holder goes, and tokens without an expiry are kept.
func TestPurgeKeepsWhatIsAlive(t *testing.T) {
	ctx := context.Background()
	s := New(WithRetention(time.Hour))
	client := &fosite.DefaultClient{ID: "purge-client", Public: true}
	newGrant := func(handle string, created time.Time) *pending.Grant {
		req := fosite.NewRequest()
		req.Client = client
		return &pending.Grant{Kind: pending.KindDeviceCode, HandleSignature: handle, UserCodeSignature: "WDJBMJHT",
			Request: req, State: pending.StatePending, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute), Interval: 5 * time.Second}
	}
	require.NoError(t, s.CreatePendingGrant(ctx, newGrant("old", purgeT0)))
	later := purgeT0.Add(2 * time.Hour)
	require.NoError(t, s.CreatePendingGrant(ctx, newGrant("new", later)), "the old grant's user code has expired")

	forever := fosite.NewRequest()
	forever.ID, forever.Client, forever.Session = "forever", client, &fosite.DefaultSession{}
	require.NoError(t, s.CreateRefreshTokenSession(ctx, "rt-forever", "", forever))

	deleted, err := s.Purge(ctx, later.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, deleted, "only the old grant")
	_, err = s.GetPendingGrant(ctx, pending.KindDeviceCode, "old", nil)
	require.ErrorIs(t, err, pending.ErrNotFound)
	got, err := s.GetPendingGrantByUserCode(ctx, pending.KindDeviceCode, "WDJBMJHT", later.Add(time.Minute), nil)
	require.NoError(t, err, "the user code still finds the newer grant")
	require.Equal(t, "new", got.HandleSignature)
	_, err = s.GetRefreshTokenSession(ctx, "rt-forever", nil)
	require.NoError(t, err, "a refresh token without an expiry is kept")
}

// TestRunPurge: the background loop purges at the store's clock and stops with its context.
func TestRunPurge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var armed atomic.Bool
	ticks := make(chan struct{}, 16)
	s := New(WithClock(func() time.Time {
		if armed.Load() {
			select { // RunPurge reads the clock once per run, just before purging
			case ticks <- struct{}{}:
			default:
			}
		}
		return purgeT0.Add(48 * time.Hour)
	}))
	fill(t, s, &fosite.DefaultClient{ID: "purge-client", Public: true}, 10)
	armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.RunPurge(ctx, time.Millisecond, func(err error) { t.Errorf("purge: %v", err) }) }()
	<-ticks
	<-ticks // the second run has begun, so the first has finished
	armed.Store(false)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Zero(t, s.sizes()["grants"])
}

// TestMemoryAfterPurge measures what 200k device authorizations (each with an attempt counter, as a
// verification page would count wrong codes) cost the heap, and what is left once they expired and
// were purged: the maps shrink back, so the heap returns to its baseline.
func TestMemoryAfterPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200k grants")
	}
	const n = 200_000
	ctx := context.Background()
	s := New()
	client := &fosite.DefaultClient{ID: "demo-device", Public: true}
	before := heapAfterGC()
	exp := purgeT0.Add(10 * time.Minute)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%043d", i) // as long as a signature
		req := fosite.NewRequest()
		req.ID = id[7:]
		req.Client = client
		req.RequestedAt = purgeT0
		req.RequestedScope = fosite.Arguments{"openid", "profile"}
		req.Form = url.Values{"scope": {"openid profile"}, "client_id": {"demo-device"}}
		require.NoError(t, s.CreatePendingGrant(ctx, &pending.Grant{
			Kind: pending.KindDeviceCode, HandleSignature: "h" + id, UserCodeSignature: "u" + id, Request: req,
			State: pending.StatePending, CreatedAt: purgeT0, ExpiresAt: exp, Interval: 5 * time.Second,
			Device: pending.DeviceInfo{RemoteAddr: "192.0.2.10", UserAgent: "Go-http-client/1.1"},
		}))
		_, err := s.IncrementAttempts(ctx, "ip:"+id, purgeT0, 15*time.Minute)
		require.NoError(t, err)
	}
	full := heapAfterGC()
	start := time.Now()
	deleted, err := s.Purge(ctx, exp.Add(25*time.Hour))
	took := time.Since(start)
	require.NoError(t, err)
	require.Equal(t, 2*n, deleted)
	after := heapAfterGC()
	t.Logf("memory store, %d device authorizations: heap %.1f MB → %.1f MB; purge (%v) → %.1f MB",
		n, mb(before), mb(full), took.Round(time.Millisecond), mb(after))
	require.Less(t, float64(after), float64(before)+0.05*float64(full-before), "the heap returns to within 5%% of its growth")
	runtime.KeepAlive(s)
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// BenchmarkPurge200k purges 200k expired device authorizations (and their attempt counters) while
// another goroutine keeps creating and polling live grants, and reports how long the purge took and the
// longest a live request waited (max-live-ms): what a purge costs the requests it runs beside.
//
//	go test -run x -bench Purge200k -benchtime 1x ./storage/memory/
func BenchmarkPurge200k(b *testing.B) {
	const n = 200_000
	ctx := context.Background()
	client := &fosite.DefaultClient{ID: "demo-device", Public: true}
	grant := func(id string, exp time.Time) *pending.Grant {
		req := fosite.NewRequest()
		req.ID, req.Client, req.RequestedAt = id, client, purgeT0
		req.RequestedScope = fosite.Arguments{"openid", "profile"}
		req.Form = url.Values{"scope": {"openid profile"}, "client_id": {"demo-device"}}
		return &pending.Grant{Kind: pending.KindDeviceCode, HandleSignature: "h" + id, UserCodeSignature: "u" + id, Request: req,
			State: pending.StatePending, CreatedAt: purgeT0, ExpiresAt: exp, Interval: 5 * time.Second}
	}
	var worst time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := New()
		for j := 0; j < n; j++ {
			id := fmt.Sprintf("%043d", j)
			if err := s.CreatePendingGrant(ctx, grant(id, purgeT0.Add(10*time.Minute))); err != nil {
				b.Fatal(err)
			}
			if _, err := s.IncrementAttempts(ctx, "ip:"+id, purgeT0, 15*time.Minute); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		stop := make(chan struct{})
		done := make(chan time.Duration)
		go func() {
			var longest time.Duration
			for k := 0; ; k++ {
				select {
				case <-stop:
					done <- longest
					return
				default:
				}
				start := time.Now()
				id := fmt.Sprintf("live-%d-%d", i, k)
				if err := s.CreatePendingGrant(ctx, grant(id, purgeT0.Add(48*time.Hour))); err != nil {
					b.Error(err)
				}
				if _, err := s.RecordPoll(ctx, pending.KindDeviceCode, "h"+id, purgeT0, 5*time.Second); err != nil {
					b.Error(err)
				}
				longest = max(longest, time.Since(start))
			}
		}()
		b.StartTimer()
		if _, err := s.Purge(ctx, purgeT0.Add(25*time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		close(stop)
		worst = max(worst, <-done)
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-live-ms")
}
