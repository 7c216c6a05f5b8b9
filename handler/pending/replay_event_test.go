package pending_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
)

// TestReplayEvent: every grant audits a replay alike — the revocation it causes, under the grant's
// request ID, naming the grant — and says so when the revocation failed.
func TestReplayEvent(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	req := fosite.NewRequest()
	req.ID = "req-1"
	req.Client = &fosite.DefaultClient{ID: "kiosk"}
	g := &pending.Grant{Kind: pending.KindOTP, Subject: "alice", Request: req}

	e := pending.ReplayEvent(g, nil, now)
	require.Equal(t, audit.Event{Type: audit.EventRevoked, Grant: audit.GrantOTP, Subject: "alice", ClientID: "kiosk",
		RequestID: "req-1", Time: now, Data: map[string]any{"reason": "replayed"}}, e)

	g.Kind = pending.KindDeviceCode
	e = pending.ReplayEvent(g, errors.New("database is gone"), now)
	require.Equal(t, audit.GrantDeviceCode, e.Grant)
	require.Equal(t, map[string]any{"reason": "replayed", "revocation_failed": true}, e.Data, "the replay is recorded, and that its tokens may still be active")
}
