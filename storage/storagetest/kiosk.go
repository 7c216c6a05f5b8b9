package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// KioskStore is what RunKioskStorageTests exercises: the pending store plus the storage of the device
// grant's kiosk and alert features.
type KioskStore interface {
	Store
	rfc8628.KioskStorage
}

// KioskFactory returns a fresh, empty store in which client exists.
type KioskFactory func(t *testing.T, client fosite.Client) KioskStore

// RunKioskStorageTests runs the conformance suite of rfc8628.KioskStorage.
func RunKioskStorageTests(t *testing.T, newStore KioskFactory) {
	ctx := context.Background()
	setup := func(t *testing.T) (*fixture, KioskStore) {
		t.Parallel()
		c := newClient()
		s := newStore(t, c)
		return &fixture{store: s, client: c}, s
	}
	ids := func(gs []*pending.Grant) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.HandleSignature)
		}
		return out
	}
	at := func(d time.Duration) func(*pending.Grant) {
		return func(g *pending.Grant) { g.CreatedAt = t0.Add(d); g.ExpiresAt = t0.Add(d + 10*time.Minute) }
	}

	t.Run("list by login hint: pending, live, exact account, oldest first, no session", func(t *testing.T) {
		f, s := setup(t)
		late := f.grant(t, at(time.Minute))
		early := f.grant(t, at(0))
		f.grant(t, func(g *pending.Grant) { g.LoginHint = "acct-4" })
		f.grant(t, func(g *pending.Grant) { g.LoginHint = "ACCT-42" })
		decided := f.grant(t, nil)
		require.NoError(t, s.DecidePendingGrant(ctx, decided.Kind, decided.HandleSignature, approve("alice"), t0))
		f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(30 * time.Second) })
		f.grant(t, func(g *pending.Grant) { g.Kind = pending.KindCIBA })

		got, err := s.ListPendingGrantsByLoginHint(ctx, pending.KindDeviceCode, "acct-42", t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{early.HandleSignature, late.HandleSignature}, ids(got))
		require.Equal(t, "acct-42", got[0].LoginHint)
		require.Equal(t, early.Device, got[0].Device)
		require.Equal(t, early.Request.GetID(), got[0].Request.GetID())
		require.Nil(t, got[0].Request.GetSession())

		none, err := s.ListPendingGrantsByLoginHint(ctx, pending.KindDeviceCode, "nobody", t0)
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("get by request ID in any state", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0))
		require.NoError(t, s.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature))
		got, err := s.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, g.Request.GetID())
		require.NoError(t, err)
		require.Equal(t, g.HandleSignature, got.HandleSignature)
		require.Equal(t, pending.StateConsumed, got.State)
		require.Equal(t, "alice", got.Subject)

		_, err = s.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, "unknown")
		require.ErrorIs(t, err, pending.ErrNotFound)
		_, err = s.GetPendingGrantByRequestID(ctx, pending.KindCIBA, g.Request.GetID())
		require.ErrorIs(t, err, pending.ErrNotFound, "the kind is part of the key")
	})

	t.Run("list approved by subject and client since a time, newest first", func(t *testing.T) {
		f, s := setup(t)
		decide := func(subject string, approved bool, when time.Duration, consume bool) *pending.Grant {
			g := f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(time.Hour) })
			d := approve(subject)
			d.Approved = approved
			require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, d, t0.Add(when)))
			if consume {
				require.NoError(t, s.ConsumePendingGrant(ctx, g.Kind, g.HandleSignature))
			}
			return g
		}
		old := decide("alice", true, time.Minute, false)
		a := decide("alice", true, 10*time.Minute, true)
		b := decide("alice", true, 20*time.Minute, false)
		decide("alice", false, 30*time.Minute, false)
		decide("bob", true, 30*time.Minute, false)
		f.grant(t, nil) // pending

		got, err := s.ListApprovedGrants(ctx, pending.KindDeviceCode, "alice", f.client.GetID(), t0.Add(5*time.Minute), 10)
		require.NoError(t, err)
		require.Equal(t, []string{b.HandleSignature, a.HandleSignature}, ids(got))
		got, err = s.ListApprovedGrants(ctx, pending.KindDeviceCode, "alice", f.client.GetID(), t0, 2)
		require.NoError(t, err)
		require.Len(t, got, 2, "limit")
		got, err = s.ListApprovedGrants(ctx, pending.KindDeviceCode, "alice", f.client.GetID(), t0, 10)
		require.NoError(t, err)
		require.Contains(t, ids(got), old.HandleSignature)
		got, err = s.ListApprovedGrants(ctx, pending.KindDeviceCode, "alice", "other-client", t0, 10)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("list expired grants never redeemed, in a time range", func(t *testing.T) {
		f, s := setup(t)
		p := f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(time.Minute) })
		a := f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(2 * time.Minute) })
		require.NoError(t, s.DecidePendingGrant(ctx, a.Kind, a.HandleSignature, approve("alice"), t0))
		c := f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(3 * time.Minute) })
		require.NoError(t, s.DecidePendingGrant(ctx, c.Kind, c.HandleSignature, approve("alice"), t0))
		require.NoError(t, s.ConsumePendingGrant(ctx, c.Kind, c.HandleSignature))
		d := f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(4 * time.Minute) })
		require.NoError(t, s.DecidePendingGrant(ctx, d.Kind, d.HandleSignature, pending.Decision{Subject: "alice"}, t0))
		f.grant(t, func(g *pending.Grant) { g.ExpiresAt = t0.Add(time.Hour) })

		got, err := s.ListExpiredGrants(ctx, pending.KindDeviceCode, time.Time{}, t0.Add(5*time.Minute), 10)
		require.NoError(t, err)
		require.Equal(t, []string{p.HandleSignature, a.HandleSignature}, ids(got))
		got, err = s.ListExpiredGrants(ctx, pending.KindDeviceCode, t0.Add(time.Minute), t0.Add(5*time.Minute), 10)
		require.NoError(t, err)
		require.Equal(t, []string{a.HandleSignature}, ids(got), "after is exclusive")
		got, err = s.ListExpiredGrants(ctx, pending.KindDeviceCode, time.Time{}, t0.Add(5*time.Minute), 1)
		require.NoError(t, err)
		require.Equal(t, []string{p.HandleSignature}, ids(got), "limit")
	})

	t.Run("expire ends a grant and frees its user code", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		now := t0.Add(time.Minute)
		require.NoError(t, s.ExpirePendingGrant(ctx, g.Kind, g.HandleSignature, now))
		got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		require.True(t, got.ExpiresAt.Equal(now), "expires at %s", got.ExpiresAt)
		require.ErrorIs(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), now), pending.ErrStateChanged)
		_, err = s.GetPendingGrantByUserCode(ctx, g.Kind, g.UserCodeSignature, now, nil)
		require.ErrorIs(t, err, pending.ErrNotFound)
		f.grant(t, func(n *pending.Grant) {
			n.UserCodeSignature = g.UserCodeSignature
			n.CreatedAt = now
			n.ExpiresAt = now.Add(time.Minute)
		})

		// Expiring again, later, does not move the expiry.
		require.NoError(t, s.ExpirePendingGrant(ctx, g.Kind, g.HandleSignature, now.Add(time.Hour)))
		got, err = s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		require.True(t, got.ExpiresAt.Equal(now))
		require.ErrorIs(t, s.ExpirePendingGrant(ctx, g.Kind, "unknown", now), pending.ErrNotFound)
	})

	t.Run("expire an approved grant: it can no longer be redeemed", func(t *testing.T) {
		f, s := setup(t)
		g := f.grant(t, nil)
		require.NoError(t, s.DecidePendingGrant(ctx, g.Kind, g.HandleSignature, approve("alice"), t0))
		require.NoError(t, s.ExpirePendingGrant(ctx, g.Kind, g.HandleSignature, t0.Add(time.Second)))
		got, err := s.GetPendingGrant(ctx, g.Kind, g.HandleSignature, nil)
		require.NoError(t, err)
		require.ErrorIs(t, pending.Check(got, f.client.GetID(), t0.Add(time.Second)), pending.ErrExpiredToken)
	})

	t.Run("use once: exactly one of many concurrent uses wins; reusable after expiry", func(t *testing.T) {
		_, s := setup(t)
		exp := t0.Add(time.Hour)
		wins := race(32, func() error { return s.UseOnce(ctx, "link-1", exp, t0) })
		require.Equal(t, 1, wins)
		require.ErrorIs(t, s.UseOnce(ctx, "link-1", exp, t0.Add(59*time.Minute)), pending.ErrStateChanged)
		require.NoError(t, s.UseOnce(ctx, "link-2", exp, t0), "keys are independent")
		require.NoError(t, s.UseOnce(ctx, "link-1", exp.Add(time.Hour), exp), "an expired record may be used again")
		require.ErrorIs(t, s.UseOnce(ctx, "link-1", exp.Add(time.Hour), exp.Add(time.Minute)), pending.ErrStateChanged)
		for i := 0; i < 3; i++ {
			require.NoError(t, s.UseOnce(ctx, fmt.Sprintf("k%d", i), exp, t0))
		}
	})
}
