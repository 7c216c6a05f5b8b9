// Package storagetest is the conformance suite every store of this module must pass: single use under
// concurrency, expiry, collisions, state changes, poll accounting, attempt counting and transactions.
//
// A store's own tests call RunPendingStorageTests with a factory that returns a fresh, empty store in
// which the given client exists:
//
//	func TestConformance(t *testing.T) {
//		storagetest.RunPendingStorageTests(t, func(t *testing.T, c fosite.Client) storagetest.Store {
//			s := memory.New()
//			_ = s.SetClient(context.Background(), c)
//			return s
//		})
//	}
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// Store is what the suite exercises.
type Store interface {
	pending.Storage
	pending.AttemptStorage
}

// Factory returns a fresh, empty store in which client exists. It is called once per test.
type Factory func(t *testing.T, client fosite.Client) Store

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newClient() *fosite.DefaultClient {
	return &fosite.DefaultClient{
		ID:         "storagetest-client",
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		Scopes:     []string{"openid", "profile", "offline_access"},
		Public:     true,
	}
}

type fixture struct {
	store  Store
	client fosite.Client
	n      int
}

func (f *fixture) grant(t *testing.T, mutate func(*pending.Grant)) *pending.Grant {
	t.Helper()
	f.n++
	req := fosite.NewRequest()
	req.Client = f.client
	req.RequestedAt = t0
	req.RequestedScope = fosite.Arguments{"openid", "profile"}
	req.RequestedAudience = fosite.Arguments{"https://api.example"}
	req.Form = url.Values{"scope": {"openid profile"}}
	g := &pending.Grant{
		Kind:              pending.KindDeviceCode,
		HandleSignature:   fmt.Sprintf("handle-%d", f.n),
		UserCodeSignature: fmt.Sprintf("user-%d", f.n),
		Request:           req,
		State:             pending.StatePending,
		CreatedAt:         t0,
		ExpiresAt:         t0.Add(10 * time.Minute),
		Interval:          5 * time.Second,
		LoginHint:         "acct-42",
		Device:            pending.DeviceInfo{RemoteAddr: "192.0.2.7", UserAgent: "tv/1.0"},
		Extra:             map[string]string{"mode": "poll"},
	}
	if mutate != nil {
		mutate(g)
	}
	require.NoError(t, f.store.CreatePendingGrant(context.Background(), g))
	return g
}

func session(subject string) *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject, AuthTime: t0},
		Headers: &jwt.Headers{},
		Subject: subject,
	}
}

func approve(subject string) pending.Decision {
	return pending.Decision{Approved: true, Subject: subject, Session: session(subject), GrantedScopes: []string{"openid"}, GrantedAudience: []string{"https://api.example"}}
}

// RunPendingStorageTests runs the suite against stores made by newStore.
func RunPendingStorageTests(t *testing.T, newStore Factory) {
	ctx := context.Background()
	setup := func(t *testing.T) *fixture {
		t.Parallel()
		c := newClient()
		return &fixture{store: newStore(t, c), client: c}
	}

	t.Run("create and get round-trips every field", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
		require.NoError(t, err)
		require.Equal(t, g.Kind, got.Kind)
		require.Equal(t, g.HandleSignature, got.HandleSignature)
		require.Equal(t, g.UserCodeSignature, got.UserCodeSignature)
		require.Equal(t, pending.StatePending, got.State)
		require.True(t, g.CreatedAt.Equal(got.CreatedAt), "created at %s, got %s", g.CreatedAt, got.CreatedAt)
		require.True(t, g.ExpiresAt.Equal(got.ExpiresAt), "expires at %s, got %s", g.ExpiresAt, got.ExpiresAt)
		require.Equal(t, g.Interval, got.Interval)
		require.True(t, got.LastPolledAt.IsZero())
		require.Equal(t, g.LoginHint, got.LoginHint)
		require.Equal(t, g.Device, got.Device)
		require.Equal(t, g.Extra, got.Extra)
		require.Equal(t, g.Request.GetID(), got.Request.GetID())
		require.Equal(t, f.client.GetID(), got.ClientID())
		require.Equal(t, g.Request.GetRequestedScopes(), got.Request.GetRequestedScopes())
		require.Equal(t, g.Request.GetRequestedAudience(), got.Request.GetRequestedAudience())
		require.Equal(t, "openid profile", got.Request.GetRequestForm().Get("scope"))
		require.Empty(t, got.Request.GetGrantedScopes())
	})

	t.Run("unknown handle and other kind are not found", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		_, err := f.store.GetPendingGrant(ctx, g.Kind, "nope", nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
		_, err = f.store.GetPendingGrant(ctx, pending.KindCIBA, g.HandleSignature, nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
		_, err = f.store.GetPendingGrantByUserCode(ctx, pending.KindCIBA, g.UserCodeSignature, t0, nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
	})

	t.Run("handle and live user code collide, expired user code does not", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		dup := *g
		dup.UserCodeSignature = "fresh"
		require.ErrorIs(t, f.store.CreatePendingGrant(ctx, &dup), pending.ErrCollision)

		dup = *g
		dup.HandleSignature = "other-handle"
		require.ErrorIs(t, f.store.CreatePendingGrant(ctx, &dup), pending.ErrCollision)
		_, err := f.store.GetPendingGrant(ctx, g.Kind, "other-handle", nil)
		require.ErrorIs(t, err, pending.ErrNotFound, "a collision must store nothing")

		later := t0.Add(11 * time.Minute)
		dup.CreatedAt, dup.ExpiresAt = later, later.Add(10*time.Minute)
		require.NoError(t, f.store.CreatePendingGrant(ctx, &dup), "the first grant's user code has expired")
		got, err := f.store.GetPendingGrantByUserCode(ctx, g.Kind, g.UserCodeSignature, later, nil)
		require.NoError(t, err)
		require.Equal(t, "other-handle", got.HandleSignature)
	})

	t.Run("lookup by user code finds live grants only", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		got, err := f.store.GetPendingGrantByUserCode(ctx, g.Kind, g.UserCodeSignature, t0.Add(time.Minute), nil)
		require.NoError(t, err)
		require.Equal(t, g.HandleSignature, got.HandleSignature)
		_, err = f.store.GetPendingGrantByUserCode(ctx, g.Kind, g.UserCodeSignature, g.ExpiresAt, nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
	})

	t.Run("approval stores the decision and hydrates the session", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		d := approve("alice")
		d.Actor = "staff-7"
		d.ExpiresAt = t0.Add(7 * 24 * time.Hour)
		now := t0.Add(2 * time.Minute)
		require.NoError(t, f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, d, now))

		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
		require.NoError(t, err)
		require.Equal(t, pending.StateApproved, got.State)
		require.Equal(t, "alice", got.Subject)
		require.Equal(t, "staff-7", got.Actor)
		require.True(t, now.Equal(got.DecidedAt))
		require.True(t, d.ExpiresAt.Equal(got.ExpiresAt), "the pickup window replaces the expiry")
		require.Equal(t, fosite.Arguments{"openid"}, got.Request.GetGrantedScopes())
		require.Equal(t, fosite.Arguments{"https://api.example"}, got.Request.GetGrantedAudience())
		sess, ok := got.Request.GetSession().(*openid.DefaultSession)
		require.True(t, ok, "session type %T", got.Request.GetSession())
		require.Equal(t, "alice", sess.Claims.Subject)

		require.ErrorIs(t, f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("mallory"), now), pending.ErrStateChanged)
		got, err = f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
		require.NoError(t, err)
		require.Equal(t, "alice", got.Subject, "a second decision changes nothing")
	})

	t.Run("denial, expiry and unknown handles", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		require.NoError(t, f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, pending.Decision{Subject: "bob"}, t0))
		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, pending.StateDenied, got.State)
		require.Equal(t, "bob", got.Subject)
		require.ErrorIs(t, f.store.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature), pending.ErrStateChanged)

		expired := f.grant(t, nil)
		require.ErrorIs(t, f.store.DecidePendingGrant(ctx, g.Kind, expired.HandleSignature, approve("alice"), expired.ExpiresAt), pending.ErrStateChanged)
		require.ErrorIs(t, f.store.DecidePendingGrant(ctx, g.Kind, "nope", approve("alice"), t0), pending.ErrNotFound)
	})

	t.Run("poll accounting raises the interval on early polls", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		const step = 5 * time.Second
		poll := func(at time.Duration) bool {
			slow, err := f.store.RecordPoll(ctx, g.Kind, g.HandleSignature, t0.Add(at), step)
			require.NoError(t, err)
			return slow
		}
		require.False(t, poll(0), "the first poll is never early, even at issuance time")
		require.False(t, poll(5*time.Second), "a poll exactly one interval later is on time")
		require.True(t, poll(7*time.Second), "2s after the last poll is early")
		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		require.Equal(t, 10*time.Second, got.Interval)
		require.True(t, t0.Add(7*time.Second).Equal(got.LastPolledAt))
		require.True(t, poll(15*time.Second), "8s later is early for the raised 10s interval")
		require.False(t, poll(30*time.Second), "15s later is on time for 15s")
		_, err = f.store.RecordPoll(ctx, g.Kind, "nope", t0, step)
		require.ErrorIs(t, err, pending.ErrNotFound)
	})

	t.Run("consume happens once", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		require.ErrorIs(t, f.store.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature), pending.ErrStateChanged, "a pending grant can not be consumed")
		require.NoError(t, f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0))
		require.NoError(t, f.store.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature))
		require.ErrorIs(t, f.store.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature), pending.ErrStateChanged)
		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
		require.NoError(t, err)
		require.Equal(t, pending.StateConsumed, got.State)
		require.ErrorIs(t, f.store.ConsumePendingGrant(ctx, g.Kind, "nope"), pending.ErrNotFound)
	})

	t.Run("64 concurrent redemptions: exactly one wins", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		require.NoError(t, f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0))
		require.Equal(t, 1, race(64, func() error { return f.store.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature) }))
	})

	t.Run("16 concurrent decisions: exactly one wins", func(t *testing.T) {
		f := setup(t)
		g := f.grant(t, nil)
		require.Equal(t, 1, race(16, func() error {
			return f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0)
		}))
	})

	t.Run("attempt counters use fixed windows", func(t *testing.T) {
		f := setup(t)
		const w = 10 * time.Minute
		for i := 1; i <= 3; i++ {
			n, err := f.store.IncrementAttempts(ctx, "ip:192.0.2.1", t0.Add(time.Duration(i)*time.Minute), w)
			require.NoError(t, err)
			require.Equal(t, i, n)
		}
		n, err := f.store.GetAttempts(ctx, "ip:192.0.2.1", t0.Add(5*time.Minute), w)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = f.store.GetAttempts(ctx, "ip:192.0.2.2", t0, w)
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = f.store.GetAttempts(ctx, "ip:192.0.2.1", t0.Add(11*time.Minute), w)
		require.NoError(t, err)
		require.Zero(t, n, "the window that began with the first failure has passed")
		n, err = f.store.IncrementAttempts(ctx, "ip:192.0.2.1", t0.Add(12*time.Minute), w)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, 20, race(20, func() error {
			_, err := f.store.IncrementAttempts(ctx, "global", t0, w)
			return err
		}))
		n, err = f.store.GetAttempts(ctx, "global", t0, w)
		require.NoError(t, err)
		require.Equal(t, 20, n, "concurrent increments are not lost")
	})

	t.Run("a rolled-back consume leaves the grant approved", func(t *testing.T) {
		f := setup(t)
		tx, ok := f.store.(storage.Transactional)
		if !ok {
			t.Skip("store is not transactional")
		}
		g := f.grant(t, nil)
		require.NoError(t, f.store.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0))
		txCtx, err := tx.BeginTX(ctx)
		require.NoError(t, err)
		require.NoError(t, f.store.ConsumePendingGrant(txCtx, g.Kind, g.HandleSignature))
		require.NoError(t, tx.Rollback(txCtx))
		got, err := f.store.GetPendingGrant(ctx, g.Kind, g.HandleSignature, &openid.DefaultSession{})
		require.NoError(t, err)
		require.Equal(t, pending.StateApproved, got.State)
		require.NoError(t, f.store.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature))
	})
}

// race runs fn n times at once and returns how many calls succeeded. Failures other than the expected
// state and collision errors fail the test through the returned count.
func race(n int, fn func() error) int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ok    int
		start = make(chan struct{})
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if !errors.Is(err, pending.ErrStateChanged) {
				ok = -1000 // any other error is a failure of the store
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok
}
