package rfc8628_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
)

// The cross-device policies of RFC 10027 on the device grant: each test turns one on and plays what an
// attacker (or an unlucky user) would do.

func startFrom(t *testing.T, s *gt.Server, form url.Values) *gt.Response {
	t.Helper()
	return s.Do(t, gt.Request{Path: gt.DevicePath, Form: form})
}

// TestPolicyInitiationLimit: by default one address may start 60 device flows per 15 minutes; the 61st
// is 429 temporarily_unavailable with Retry-After, audited once, and nothing is stored for it.
func TestPolicyInitiationLimit(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := gt.New(t, func(o *rfc8628.Options) { o.Audit = rec })
	form := url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid"}}
	for i := range 60 {
		require.Equal(t, http.StatusOK, startFrom(t, s, form).Status, "request %d", i+1)
	}
	for range 3 {
		res := startFrom(t, s, form)
		require.Equal(t, http.StatusTooManyRequests, res.Status)
		require.Equal(t, "temporarily_unavailable", res.Error(t))
		require.Equal(t, "900", res.Header.Get("Retry-After"))
		require.Contains(t, res.String(t, "error_description"), "Too many requests came from this address lately. Try again in 15 minutes.")
	}
	require.Equal(t, []string{audit.EventPolicyRefused}, rec.types(), "a flood is audited once per window, not per request")
	require.Equal(t, pending.PolicyRateLimit, rec.events[0].Data["policy"])
	require.Equal(t, "address", rec.events[0].Data["limit"])

	s.Clock.Advance(15 * time.Minute)
	require.Equal(t, http.StatusOK, startFrom(t, s, form).Status, "the window passed")
}

// TestPolicyTrustedNetworks: a client with networks may start flows only from them.
func TestPolicyTrustedNetworks(t *testing.T) {
	t.Parallel()
	form := url.Values{"client_id": {gt.PublicClientID}}
	s := gt.New(t, func(o *rfc8628.Options) {
		o.Policy.Networks = map[string][]netip.Prefix{gt.PublicClientID: {netip.MustParsePrefix("10.0.0.0/8")}}
	})
	res := startFrom(t, s, form) // the test server sees 127.0.0.1
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "unauthorized_client", res.Error(t))

	s = gt.New(t, func(o *rfc8628.Options) {
		o.Policy.Networks = map[string][]netip.Prefix{gt.PublicClientID: {netip.MustParsePrefix("127.0.0.0/8")}}
	})
	require.Equal(t, http.StatusOK, startFrom(t, s, form).Status)
	require.Equal(t, http.StatusOK, startFrom(t, s, url.Values{"client_id": {gt.NoRefreshClientID}}).Status, "a client without networks starts anywhere")
}

// TestPolicyKeyBoundClients: with RequireKeyBoundClients, a shared public client (or one with a secret)
// cannot start flows; only clients with their own key may.
func TestPolicyKeyBoundClients(t *testing.T) {
	t.Parallel()
	s := gt.New(t, func(o *rfc8628.Options) { o.Policy.RequireKeyBoundClients = true })
	res := startFrom(t, s, url.Values{"client_id": {gt.PublicClientID}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "unauthorized_client", res.Error(t))
	res = s.Do(t, gt.Request{Path: gt.DevicePath, Form: url.Values{}, BasicUser: gt.ConfidentialClientID, BasicPassword: gt.ConfidentialSecret})
	require.Equal(t, "unauthorized_client", res.Error(t))
}

// TestPolicyCeilings: the scopes a flow may ask for, the lifetimes of its codes and tokens, and
// whether it gets a refresh token are capped, globally and per client (the tighter wins).
func TestPolicyCeilings(t *testing.T) {
	t.Parallel()
	s := gt.New(t, func(o *rfc8628.Options) {
		o.Policy.Ceiling = pending.Ceiling{Scopes: []string{"openid", "offline_access", "profile"}, AccessTokenLifespan: 10 * time.Minute}
		o.Policy.ClientCeilings = map[string]pending.Ceiling{gt.PublicClientID: {
			Scopes: []string{"openid", "offline_access"}, AccessTokenLifespan: time.Hour, CodeLifespan: 2 * time.Minute, NoRefreshTokens: true,
		}}
	})
	res := startFrom(t, s, url.Values{"client_id": {gt.PublicClientID}, "scope": {"openid profile"}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "invalid_scope", res.Error(t), "profile is beyond this client's ceiling")

	d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
	require.Equal(t, int64(120), d.ExpiresIn, "the client's code lifetime ceiling")
	s.Approve(t, d.UserCode, "alice")
	s.Clock.Advance(5 * time.Second)
	tok := requireTokens(t, s.Poll(t, gt.PublicClientID, d.DeviceCode))
	require.Empty(t, tok.RefreshToken, "no refresh token, although offline_access was granted")
	require.InDelta(t, 600, tok.ExpiresIn, 2, "the tighter access token lifetime: the global 10 minutes")
}

// TestPolicyBurnedCode plays RFC 10027's example B1: an attacker mails one user code to many people.
// Past three signed-in accounts looking it up, the code is burned: every lookup answers as for a wrong
// code, nobody can approve it, the device gets access_denied, and the flag is audited.
func TestPolicyBurnedCode(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s := gt.New(t, func(o *rfc8628.Options) { o.Audit = rec })
	ctx := context.Background()
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	look := func(account string) error {
		_, err := s.Device.Verifier.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.9", Account: account})
		return err
	}
	for _, who := range []string{"victim-1", "victim-2", "victim-1", "victim-3", "victim-2"} {
		require.NoError(t, look(who), "the same account looking again is not another one")
	}
	require.ErrorIs(t, look("victim-4"), pending.ErrInvalidUserCode)
	require.ErrorIs(t, look("victim-1"), pending.ErrInvalidUserCode, "burned for everyone")
	_, err := s.Device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.9", Account: "victim-1"},
		pending.Decision{Subject: "victim-1", Session: gt.Session("victim-1")})
	require.ErrorIs(t, err, pending.ErrInvalidUserCode)
	s.Clock.Advance(5 * time.Second)
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "access_denied")

	require.Equal(t, []string{audit.EventPolicyRefused, audit.EventFlagged}, rec.types())
	require.Equal(t, pending.PolicyBurnedCode, rec.events[0].Data["policy"])
	require.Equal(t, pending.ReasonBurnedCode, rec.events[1].Data["reason"])
}

// TestPolicyProximity: the lookup says where the request came from and whether the person is on the
// same network; with RefuseAcrossNetworks an approval from elsewhere is refused (403 access_denied)
// and changes nothing, while one from the device's network works.
func TestPolicyProximity(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	locator := placesByAddress{
		"127.0.0.1": {City: "Springfield", CountryName: "United States", ASN: 64500, Organization: "Home ISP"},
		"192.0.2.1": {City: "Elsewhere", CountryName: "Ruritania", ASN: 64501, Organization: "Far ISP"},
	}
	s := gt.New(t, func(o *rfc8628.Options) {
		o.Audit = rec
		o.Policy.Locator = locator
		o.Policy.RefuseAcrossNetworks = true
	})
	ctx := context.Background()
	d := s.StartDevice(t, gt.PublicClientID, "openid")
	far := pending.Caller{Address: "192.0.2.1", Account: "alice"}
	a, err := s.Device.Verifier.Lookup(ctx, d.UserCode, far)
	require.NoError(t, err)
	require.Equal(t, "Springfield, United States", a.Proximity.Requester.String())
	require.Equal(t, "Elsewhere, Ruritania", a.Proximity.Approver.String())
	require.False(t, a.Proximity.SameNetwork)

	_, err = s.Device.Verifier.Approve(ctx, d.UserCode, far, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.ErrorIs(t, err, pending.ErrAcrossNetworks)
	require.Equal(t, http.StatusForbidden, fosite.ErrorToRFC6749Error(err).CodeField)
	s.Clock.Advance(5 * time.Second)
	requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
	require.Equal(t, pending.PolicyAcrossNetworks, rec.events[len(rec.events)-1].Data["policy"])

	near := pending.Caller{Address: "127.0.0.1", Account: "alice"}
	a, err = s.Device.Verifier.Lookup(ctx, d.UserCode, near)
	require.NoError(t, err)
	require.True(t, a.Proximity.SameNetwork)
	_, err = s.Device.Verifier.Approve(ctx, d.UserCode, near, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
	require.NoError(t, err)
}

// TestFlag: flagging a redeemed grant revokes every token it issued (introspection says inactive at
// once, the refresh token no longer works), announces it once, and a second flag changes nothing;
// flagging a pending grant denies it.
func TestFlag(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	events := &announcements{}
	s := gt.New(t, func(o *rfc8628.Options) {
		o.Audit = rec
		o.Policy.Events = events
	})
	ctx := context.Background()
	d, tok, _ := approveAndRedeem(t, s, gt.PublicClientID, "openid offline_access")
	requestID := grantOf(t, s, d).Request.GetID()
	require.True(t, active(t, s, tok.AccessToken))

	require.NoError(t, s.Device.Flag(ctx, requestID, pending.ReasonStaff, "clerk-7"))
	require.False(t, active(t, s, tok.AccessToken), "the access token is revoked at once")
	res := s.Do(t, gt.Request{Path: gt.TokenPath, Form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {gt.PublicClientID}}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, []pending.Remediation{{Kind: pending.KindDeviceCode, RequestID: requestID, ClientID: gt.PublicClientID, Subject: "alice",
		Reason: pending.ReasonStaff, By: "clerk-7", Time: s.Clock.Now(), TokensRevoked: true}}, events.list())
	flagged := rec.events[len(rec.events)-1]
	require.Equal(t, audit.EventFlagged, flagged.Type)
	require.Equal(t, "clerk-7", flagged.Actor)

	require.NoError(t, s.Device.Flag(ctx, requestID, pending.ReasonAdministrator, "admin"), "flagging again is not an error")
	require.Len(t, events.list(), 1, "and announces nothing new")

	// A pending grant: denied, so the device stops polling.
	p := s.StartDevice(t, gt.PublicClientID, "openid")
	require.NoError(t, s.Device.Flag(ctx, grantOf(t, s, p).Request.GetID(), pending.ReasonReported, "alice"))
	s.Clock.Advance(5 * time.Second)
	requireError(t, s.Poll(t, gt.PublicClientID, p.DeviceCode), http.StatusBadRequest, "access_denied")
	require.ErrorIs(t, s.Device.Flag(ctx, "no-such-request", pending.ReasonStaff, "x"), pending.ErrNotFound)
}

// TestPolicyCeilingsHoldThroughRefresh: a grant issued under a ceiling keeps to it when its refresh
// token is used. fosite's refresh handler would give the new tokens the server's lifespans (an hour,
// thirty days), so that every rotation extended the grant.
func TestPolicyCeilingsHoldThroughRefresh(t *testing.T) {
	t.Parallel()
	s := gt.New(t, func(o *rfc8628.Options) {
		o.Policy.Ceiling = pending.Ceiling{AccessTokenLifespan: 10 * time.Minute, RefreshTokenLifespan: time.Hour}
	})
	ctx := context.Background()
	refreshExpiry := func(token string) time.Time {
		t.Helper()
		_, ar, err := s.Provider.IntrospectToken(ctx, token, fosite.RefreshToken, openid.NewDefaultSession())
		require.NoError(t, err)
		return ar.GetSession().GetExpiresAt(fosite.RefreshToken)
	}
	d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
	s.Approve(t, d.UserCode, "alice")
	s.Clock.Advance(5 * time.Second)
	tok := requireTokens(t, s.Poll(t, gt.PublicClientID, d.DeviceCode))
	require.InDelta(t, 600, tok.ExpiresIn, 2)
	end := refreshExpiry(tok.RefreshToken)
	require.WithinDuration(t, s.Clock.Now().Add(time.Hour), end, 2*time.Second, "the refresh token lifetime ceiling")

	for i := 0; i < 3; i++ {
		res := s.Do(t, gt.Request{Path: gt.TokenPath, Form: url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {gt.PublicClientID},
		}})
		tok = requireTokens(t, res)
		require.NotEmpty(t, tok.RefreshToken)
		require.LessOrEqual(t, tok.ExpiresIn, int64(600), "a refreshed access token lives no longer than the first")
		require.False(t, refreshExpiry(tok.RefreshToken).After(end), "rotation does not extend the grant past its first refresh token")
	}
}

// active asks the provider's introspection whether token is active.
func active(t *testing.T, s *gt.Server, token string) bool {
	t.Helper()
	_, _, err := s.Provider.IntrospectToken(context.Background(), token, fosite.AccessToken, openid.NewDefaultSession())
	if err != nil {
		// fosite answers a deleted (revoked) token with request_unauthorized, an expired one with
		// token_inactive; both are "active": false to a resource server.
		require.Less(t, fosite.ErrorToRFC6749Error(err).CodeField, 500, "%v", err)
		return false
	}
	return true
}

// placesByAddress is a Locator over a fixed table (the geoip package's own tests run its reader
// over generated databases).
type placesByAddress map[string]pending.Place

func (p placesByAddress) Locate(_ context.Context, a netip.Addr) (pending.Place, error) {
	return p[a.String()], nil
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
