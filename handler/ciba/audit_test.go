package ciba_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
)

// types lists the recorded events' types, shortened to their last path element.
func (r *recorder) types() []string {
	out := []string{}
	for _, e := range r.events {
		out = append(out, e.Type[len("https://github.com/fosite-contrib/grants/event/pending/"):])
	}
	return out
}

// of returns the recorded events of type typ.
func (r *recorder) of(typ string) []audit.Event {
	var out []audit.Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestAuditTrail: every CIBA request, decision, redemption and replay is in the audit log (seed 001: "an
// audit trail of every decision"), for the user the request is for, with the client and the request ID,
// and nothing secret.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	f := newFixture(t, func(o *ciba.Options) { o.Audit = rec })
	ctx := context.Background()

	// Poll: approved, redeemed, then replayed (what it issued is revoked).
	a := f.start(t, pollClient, form("scope", "openid profile", "login_hint", "alice"))
	n := f.approveLast(t, "openid")
	require.Equal(t, http.StatusOK, f.poll(t, pollClient, a.AuthReqID).Status)
	require.Equal(t, "invalid_grant", f.poll(t, pollClient, a.AuthReqID).Error(t))
	require.Equal(t, []string{"requested", "approved", "redeemed", "revoked"}, rec.types())
	for _, e := range rec.events {
		require.Equal(t, audit.GrantCIBA, e.Grant)
		require.Equal(t, "alice", e.Subject)
		require.Equal(t, pollClient, e.ClientID)
		require.Equal(t, n.RequestID, e.RequestID)
	}
	require.Equal(t, "openid profile", rec.events[0].Data["scopes"], "requested")
	require.Equal(t, "openid", rec.events[1].Data["scopes"], "granted")
	require.Equal(t, "openid", rec.events[2].Data["scopes"], "issued")
	require.Equal(t, "replayed", rec.events[3].Data["reason"])
	for _, e := range rec.events {
		for k, v := range e.Data {
			require.NotContains(t, v, a.AuthReqID, "event %s, %s", e.Type, k)
		}
	}

	// Denied.
	rec.events = nil
	f.start(t, pollClient, form("scope", "openid", "login_hint", "alice"))
	n = f.ad.last(t)
	require.NoError(t, f.grant.Decider.Deny(ctx, n.Ref, "alice"))
	require.Equal(t, []string{"requested", "denied"}, rec.types())

	// Push: the tokens leave with the approval, so the redemption is recorded then.
	rec.events = nil
	f.start(t, pushClient, form(pushForm()...))
	f.approveLast(t)
	require.Equal(t, []string{"requested", "approved", "redeemed"}, rec.types())
	require.Equal(t, "push", rec.events[2].Data["delivery"])

	// The enrolment fallback: the request names no known user yet; the one who approves is recorded
	// with the decision and the redemption, with where they approved from.
	rec.events = nil
	fb := f.start(t, fallbackClient, form("scope", "openid", "login_hint", "bob"))
	_, err := f.grant.Enrollment.Approve(ctx, fb.UserCode, pending.Caller{Address: "198.51.100.1"},
		pending.Decision{Subject: "bob", Session: session("bob"), From: "198.51.100.1"})
	require.NoError(t, err)
	f.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusOK, f.poll(t, fallbackClient, fb.AuthReqID).Status)
	require.Equal(t, []string{"requested", "approved", "redeemed"}, rec.types())
	require.Empty(t, rec.events[0].Subject, "not known when asked")
	require.Equal(t, "bob", rec.events[1].Subject)
	require.Equal(t, "198.51.100.1", rec.events[1].Data["decided_from"])
	require.Equal(t, "bob", rec.events[2].Subject)
	for _, e := range rec.events {
		require.NotContains(t, e.Data, "user_code")
		for _, v := range e.Data {
			require.NotContains(t, v, fb.UserCode)
		}
	}

	// A decision that fails records nothing.
	rec.events = nil
	require.ErrorIs(t, f.grant.Decider.Deny(ctx, n.Ref, "alice"), ciba.ErrRequestNotFound)
	require.Empty(t, rec.events)
}
