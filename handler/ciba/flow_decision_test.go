package ciba_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/grantstest"
)

func halfHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func pushForm() []string {
	return []string{"scope", "openid offline_access", "login_hint", "alice", "client_notification_token", "push-token-456"}
}

func TestPushApproval(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	a := f.start(t, pushClient, form(pushForm()...))
	require.Zero(t, a.Interval, "push clients do not poll")
	f.approveLast(t)

	_, err := f.worker.DrainOnce(ctx)
	require.NoError(t, err)
	got := f.cb.all()
	require.Len(t, got, 1)
	cb := got[0]
	require.Equal(t, "Bearer push-token-456", cb.Authorization)
	require.Equal(t, "application/json", cb.ContentType)
	require.Equal(t, a.AuthReqID, cb.Body["auth_req_id"])
	require.Equal(t, "bearer", cb.Body["token_type"])
	require.NotEmpty(t, cb.Body["expires_in"])
	access, _ := cb.Body["access_token"].(string)
	refresh, _ := cb.Body["refresh_token"].(string)
	require.NotEmpty(t, access)
	require.NotEmpty(t, refresh)

	// §10.3.1: the ID token carries at_hash, rt_hash and the auth_req_id claim.
	claims := idTokenClaims(t, cb.Body["id_token"].(string))
	require.Equal(t, "alice", claims["sub"])
	require.Equal(t, a.AuthReqID, claims[ciba.AuthReqIDClaim])
	require.Equal(t, halfHash(access), claims["at_hash"])
	require.Equal(t, halfHash(refresh), claims[ciba.RefreshTokenHashClaim])

	// The pushed access token is live; the grant is consumed.
	_, ar, err := f.p.IntrospectToken(ctx, access, fosite.AccessToken, openid.NewDefaultSession())
	require.NoError(t, err)
	require.Equal(t, pushClient, ar.GetClient().GetID())
	require.Equal(t, "unauthorized_client", f.poll(t, pushClient, a.AuthReqID).Error(t))
	g, err := f.store.GetPendingGrant(ctx, pending.KindCIBA, sigOf(t, f, a.AuthReqID), nil)
	require.NoError(t, err)
	require.Equal(t, pending.StateConsumed, g.State)
}

func sigOf(t *testing.T, f *fixture, handle string) string {
	t.Helper()
	sig, err := pending.NewCodes(f.cfg).HandleSignature(context.Background(), handle)
	require.NoError(t, err)
	return sig
}

func TestPushDenialAndExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	denied := f.start(t, pushClient, form(pushForm()...))
	require.NoError(t, f.grant.Decider.Deny(ctx, f.ad.last(t).Ref, "alice"))
	expiring := f.start(t, pushClient, form(append(pushForm(), "requested_expiry", "10")...))

	n, err := f.grant.Decider.ExpirePush(ctx, 10)
	require.NoError(t, err)
	require.Zero(t, n, "nothing has expired yet")
	f.clock.Advance(10 * time.Second)
	n, err = f.grant.Decider.ExpirePush(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = f.grant.Decider.ExpirePush(ctx, 10)
	require.NoError(t, err)
	require.Zero(t, n, "each expiry is sent once")

	_, err = f.worker.DrainOnce(ctx)
	require.NoError(t, err)
	byID := map[string]map[string]interface{}{}
	for _, cb := range f.cb.all() {
		require.Equal(t, "Bearer push-token-456", cb.Authorization)
		byID[cb.Body["auth_req_id"].(string)] = cb.Body
	}
	require.Len(t, byID, 2)
	require.Equal(t, "access_denied", byID[denied.AuthReqID]["error"])
	require.Equal(t, "expired_token", byID[expiring.AuthReqID]["error"])
	for _, body := range byID {
		require.ElementsMatch(t, []string{"error", "error_description", "auth_req_id"}, keys(body), "§12 payload")
	}
}

func keys(m map[string]interface{}) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDecider(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	d := f.grant.Decider

	f.start(t, pollClient, form("scope", "openid profile", "login_hint", "alice", "binding_message", "one"))
	first := f.ad.last(t)
	f.clock.Advance(time.Second)
	f.start(t, pollClient, form("scope", "openid", "login_hint", "alice", "binding_message", "two"))
	second := f.ad.last(t)

	list, err := d.Pending(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{"one", "two"}, []string{list[0].BindingMessage, list[1].BindingMessage})
	list, err = d.Pending(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, list)

	r, err := d.Lookup(ctx, first.Ref, "alice")
	require.NoError(t, err)
	require.Equal(t, first.Request, *r)
	_, err = d.Lookup(ctx, first.Ref, "bob")
	require.ErrorIs(t, err, ciba.ErrRequestNotFound, "another user's request is not found")

	for _, tc := range []struct {
		name string
		ref  string
		dec  pending.Decision
		want error
	}{
		{"unknown ref", "nope", pending.Decision{Subject: "alice", Session: session("alice")}, ciba.ErrRequestNotFound},
		{"other subject", first.Ref, pending.Decision{Subject: "bob", Session: session("bob")}, ciba.ErrRequestNotFound},
		{"empty subject", first.Ref, pending.Decision{Session: session("alice")}, ciba.ErrRequestNotFound},
		{"scope not requested", second.Ref, pending.Decision{Subject: "alice", Session: session("alice"), GrantedScopes: []string{"openid", "profile"}}, fosite.ErrInvalidScope},
		{"session of another subject", first.Ref, pending.Decision{Subject: "alice", Session: session("bob")}, fosite.ErrServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, d.Approve(ctx, tc.ref, tc.dec), tc.want)
		})
	}

	require.NoError(t, d.Approve(ctx, first.Ref, pending.Decision{Subject: "alice", Session: session("alice"), GrantedScopes: []string{"openid"}}))
	require.ErrorIs(t, d.Approve(ctx, first.Ref, pending.Decision{Subject: "alice", Session: session("alice")}), ciba.ErrRequestNotFound, "decided once")
	require.ErrorIs(t, d.Deny(ctx, first.Ref, "alice"), ciba.ErrRequestNotFound)
	list, err = d.Pending(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, list, 1)

	f.clock.Advance(time.Hour)
	require.ErrorIs(t, d.Deny(ctx, second.Ref, "alice"), ciba.ErrRequestNotFound, "expired")
	list, err = d.Pending(ctx, "alice")
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestDiscoveryMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *ciba.Options) {})
	// The fixture's store is an outbox store, so ping and push are offered.
	m := f.p.Metadata()
	require.Equal(t, []string{"poll", "ping", "push"}, m["backchannel_token_delivery_modes_supported"])
	require.Equal(t, backchannelURL, m["backchannel_authentication_endpoint"])
	require.Equal(t, []string{"ES256", "PS256"}, m["backchannel_authentication_request_signing_alg_values_supported"])
	require.Equal(t, true, m["backchannel_user_code_parameter_supported"])
	require.Contains(t, m["grant_types_supported"], string(ciba.GrantType))
}

func TestPollOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// Without an outbox only poll mode is offered.
	core := fcompose.NewOAuth2HMACStrategy(f.cfg)
	key := grantstest.Key(t)
	g, err := ciba.New(f.cfg, f.store, pending.TokenStrategies{
		AccessToken: core, RefreshToken: core,
		IDToken: fcompose.NewOpenIDConnectStrategy(func(context.Context) (interface{}, error) { return key, nil }, f.cfg),
	}, ciba.Options{Resolver: f.dir, Devices: f.ad, AllowLoopbackHTTP: true, Now: f.clock.Now})
	require.NoError(t, err)
	require.Equal(t, []string{"poll"}, g.Metadata()["backchannel_token_delivery_modes_supported"])
	f.handler = g.Backchannel
	res := f.do(t, req{path: bcPath, form: form(pushForm()...), user: pingClient, pass: secret})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "unauthorized_client", res.Error(t))
	res = f.do(t, req{path: bcPath, form: form(aliceForm()...), user: pollClient, pass: secret})
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
}
