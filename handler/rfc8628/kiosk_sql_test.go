package rfc8628_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// TestAlertQueuedInApprovalTransaction runs on SQLite: the alert is queued in the approval's
// transaction, so when queuing fails the approval is rolled back, and when it succeeds both are
// stored.
func TestAlertQueuedInApprovalTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "file:"+filepath.Join(t.TempDir(), "grants.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	clock := gt.NewClock(time.Now().UTC().Truncate(time.Second))
	cfg := &fosite.Config{GlobalSecret: []byte("0123456789abcdef0123456789abcdef"), IDTokenIssuer: gt.Issuer, HashCost: 4}
	sealer, err := outbox.NewSealer(cfg.GlobalSecret)
	require.NoError(t, err)
	queue := &outbox.Queue{Storage: store, Sealer: sealer, Now: clock.Now}
	box := notify.NewOutbox(10)
	k := gt.Key(t)
	keyGetter := func(context.Context) (interface{}, error) { return k, nil }
	core := fcompose.NewOAuth2HMACStrategy(cfg)
	// The typed constructor, without fosite's compose: the grant's token handler is not even needed here.
	device, err := rfc8628.New(cfg, store, pending.TokenStrategies{
		AccessToken: core, RefreshToken: core, IDToken: fcompose.NewOpenIDConnectStrategy(keyGetter, cfg),
	}, rfc8628.Options{
		AuthorizationURL: gt.DeviceAuthorizationURL,
		VerificationURI:  gt.VerificationURI,
		Now:              clock.Now,
		Alerts: &rfc8628.AlertOptions{
			Sender: box, Outbox: queue, DeactivateURL: "https://as.example.com/device/deactivate",
			Recipients: rfc8628.AlertRecipientsFunc(func(_ context.Context, s string) (notify.Channel, string, error) {
				return notify.Email, s + "@example.com", nil
			}),
		},
	})
	require.NoError(t, err)
	require.NoError(t, store.SetClient(ctx, &fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: []string{string(rfc8628.GrantType)}, Scopes: []string{"openid"}}))
	srv := httptest.NewServer(device.Authorization)
	t.Cleanup(srv.Close)

	start := func() string {
		res, err := http.PostForm(srv.URL, map[string][]string{"client_id": {"tv"}, "scope": {"openid"}})
		require.NoError(t, err)
		defer res.Body.Close()
		var d rfc8628.DeviceResponse
		require.NoError(t, jsonDecode(res, &d))
		return d.UserCode
	}

	// A message with the ID the alert will take is already queued: queuing fails, so the approval is
	// rolled back.
	code := start()
	a, err := device.Verifier.Lookup(ctx, code, pending.Caller{Address: "192.0.2.1"})
	require.NoError(t, err)
	taken, err := outbox.NotifyMessage(outbox.KindDeviceAlert+":"+a.RequestID, outbox.KindDeviceAlert,
		notify.Message{Channel: notify.Email, To: "x@example.com", Text: "taken"})
	require.NoError(t, err)
	require.NoError(t, queue.Enqueue(ctx, taken))
	_, err = device.Verifier.Approve(ctx, code, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.ErrorIs(t, err, outbox.ErrDuplicate)
	g, err := store.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, a.RequestID)
	require.NoError(t, err)
	require.Equal(t, pending.StatePending, g.State, "rolled back with the failed enqueue")

	// Normally both commit, and a worker delivers the alert.
	code = start()
	a, err = device.Verifier.Approve(ctx, code, pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.NoError(t, err)
	g, err = store.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, a.RequestID)
	require.NoError(t, err)
	require.Equal(t, pending.StateApproved, g.State)
	w := &outbox.Worker{Storage: store, Sealer: sealer, Deliverer: outbox.Notify{Sender: box}, Now: clock.Now}
	n, err := w.DrainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the earlier message and the alert")
	var alerts int
	for _, m := range box.Messages() {
		if m.To == "alice@example.com" {
			alerts++
		}
	}
	require.Equal(t, 1, alerts)
}

func jsonDecode(res *http.Response, v interface{}) error { return json.NewDecoder(res.Body).Decode(v) }
