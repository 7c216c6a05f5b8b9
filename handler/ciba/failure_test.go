package ciba_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
)

// switchOutbox queues callbacks in the fixture's outbox, or, while broken, refuses every one, to show
// that a decision whose callback cannot be queued does not happen.
type switchOutbox struct {
	broken atomic.Bool
	next   ciba.Outbox
}

func (o *switchOutbox) Enqueue(ctx context.Context, c ciba.Callback) error {
	if o.broken.Load() {
		return errors.New("outbox down")
	}
	return o.next.Enqueue(ctx, c)
}

// TestDecisionIsAtomic: on the SQL store, when the callback cannot be queued the decision, the consumed
// grant and the minted tokens all roll back; the request can be decided again once the outbox works.
func TestDecisionIsAtomic(t *testing.T) {
	t.Parallel()
	sqlFixtures(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		p := f.start(t, pushClient, form(pushForm()...))
		n := f.ad.last(t)
		f.outbox.broken.Store(true)
		err := f.grant.Decider.Approve(ctx, n.Ref, pending.Decision{Subject: "alice", Session: session("alice")})
		require.ErrorContains(t, err, "server_error")
		g, err := f.store.GetPendingGrant(ctx, pending.KindCIBA, sigOf(t, f, p.AuthReqID), nil)
		require.NoError(t, err)
		require.Equal(t, pending.StatePending, g.State, "the approval rolled back")

		f.outbox.broken.Store(false)
		require.NoError(t, f.grant.Decider.Approve(ctx, n.Ref, pending.Decision{Subject: "alice", Session: session("alice")}))
		_, err = f.worker.DrainOnce(ctx)
		require.NoError(t, err)
		require.Len(t, f.cb.all(), 1)
	})
}

type failingDevice struct{}

func (failingDevice) Notify(context.Context, ciba.Notification) error {
	return errors.New("SMS gateway down")
}

func TestNotifyFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *ciba.Options) { c.Devices = failingDevice{} })
	res := f.authorize(t, pollClient, form(aliceForm()...))
	require.Equal(t, http.StatusInternalServerError, res.Status)
	require.Equal(t, "server_error", res.Error(t))
	requireErrorShape(t, res)
	require.NotContains(t, string(res.Body), "SMS gateway", "internal errors stay internal")
}

func TestUserCodeUnsupported(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *ciba.Options) { c.UserCodes = nil })
	res := f.authorize(t, userCodeClient, form("scope", "openid", "login_hint", "alice", "user_code", "1234"))
	require.Equal(t, "unauthorized_client", res.Error(t))
	require.Equal(t, false, f.p.Metadata()["backchannel_user_code_parameter_supported"])
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretsInLogs runs refused and successful requests in every mode with debug logging and checks
// that no auth_req_id, client_notification_token, user code or token appears in the log.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, func(c *ciba.Options) { c.Logger = logger })
	f.worker.Logger = logger
	ctx := context.Background()
	secrets := []string{"ping-token-123", "push-token-456", "wrong-code-zq"}

	ping := f.start(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "ping-token-123"))
	f.approveLast(t)
	push := f.start(t, pushClient, form(pushForm()...))
	f.approveLast(t)
	fallback := f.start(t, fallbackClient, form("scope", "openid"))
	_, err := f.worker.DrainOnce(ctx)
	require.NoError(t, err)
	f.clock.Advance(5 * time.Second)
	res := f.poll(t, pingClient, ping.AuthReqID)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, "invalid_grant", f.poll(t, pingClient, ping.AuthReqID).Error(t), "replay, logged")
	f.authorize(t, userCodeClient, form("scope", "openid", "login_hint", "alice", "user_code", "wrong-code-zq"))
	f.authorize(t, pingClient, form("scope", "openid", "login_hint", "alice", "client_notification_token", "ping-token-123 bad"))

	secrets = append(secrets, ping.AuthReqID, push.AuthReqID, fallback.AuthReqID, fallback.UserCode, res.String(t, "access_token"))
	for _, cb := range f.cb.all() {
		if tok, ok := cb.Body["access_token"].(string); ok {
			secrets = append(secrets, tok)
		}
	}
	log := buf.String()
	require.NotEmpty(t, log)
	for _, s := range secrets {
		require.NotContains(t, log, s)
	}
}
