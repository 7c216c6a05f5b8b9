package ciba_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/grantstest"
)

// TestFallbackShape: no hint, an unknown user and a user without a device all get the same response
// shape (no account enumeration), with the RFC 8628 members beside the CIBA ones.
func TestFallbackShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	shapes := map[string][]string{}
	for name, fm := range map[string]url.Values{
		"no_hint":             form("scope", "openid"),
		"unknown_user":        form("scope", "openid", "login_hint", "mallory"),
		"user_without_device": form("scope", "openid", "login_hint", "bob"),
	} {
		res := f.authorize(t, fallbackClient, fm)
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", name, res.Body)
		m := res.JSON(t)
		shapes[name] = keys(m)
		sort.Strings(shapes[name])
		require.Equal(t, verifyURI, m["verification_uri"])
		code := m["user_code"].(string)
		require.Regexp(t, `^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`, code)
		require.Equal(t, verifyURI+"?user_code="+code, m["verification_uri_complete"])
		if name == "no_hint" {
			grantstest.Golden(t, "backchannel_success_fallback", res, map[string]string{
				m["auth_req_id"].(string): "<auth_req_id>", code: "<user_code>",
			})
		}
	}
	want := []string{"auth_req_id", "expires_in", "interval", "user_code", "verification_uri", "verification_uri_complete"}
	for name, got := range shapes {
		require.Equal(t, want, got, name)
	}
	require.Zero(t, f.ad.count(), "a fallback reaches no device")

	// A user with a device takes the normal path, even for a fallback client.
	a := f.start(t, fallbackClient, form("scope", "openid", "login_hint", "alice"))
	require.Empty(t, a.UserCode)
	require.Equal(t, 1, f.ad.count())
}

func TestFallbackEnrollment(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	v := f.grant.Enrollment

	a := f.start(t, fallbackClient, form("scope", "openid profile", "login_hint", "bob", "binding_message", "ABC"))
	require.Equal(t, "authorization_pending", f.poll(t, fallbackClient, a.AuthReqID).Error(t))

	e, err := v.Lookup(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1"})
	require.NoError(t, err)
	require.Equal(t, fallbackClient, e.ClientID)
	require.Equal(t, "ABC", e.BindingMessage)
	require.Empty(t, e.Subject)
	require.Equal(t, "192.0.2.7", e.Device.RemoteAddr)
	require.Equal(t, []string{"openid", "profile"}, e.Scopes)

	// Lowercase and without the dash still matches (RFC 8628 §6.1).
	_, err = v.Lookup(ctx, "  "+strings.ToLower(a.UserCode[:4]+a.UserCode[5:])+" ", pending.Caller{Address: "198.51.100.1"})
	require.NoError(t, err)

	// The decision API cannot approve a request that names no user.
	_, recErr := f.grant.Decider.Lookup(ctx, e.Ref, "bob")
	require.ErrorIs(t, recErr, ciba.ErrRequestNotFound)

	_, err = v.Approve(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1"}, pending.Decision{Subject: "bob", Session: session("bob")})
	require.NoError(t, err)
	require.Equal(t, []string{"bob"}, f.dir.enrolls)

	f.clock.Advance(5 * time.Second)
	res := f.poll(t, fallbackClient, a.AuthReqID)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	require.Equal(t, "bob", idTokenClaims(t, res.String(t, "id_token"))["sub"])

	_, err = v.Lookup(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1"})
	require.ErrorIs(t, err, pending.ErrInvalidUserCode, "a used code is gone")

	// Bob now has a device: his next request takes the normal path.
	next := f.start(t, fallbackClient, form("scope", "openid", "login_hint", "bob"))
	require.Empty(t, next.UserCode)
	require.Equal(t, "bob", f.ad.last(t).Subject)
}

func TestFallbackDenyAndLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	v := f.grant.Enrollment

	a := f.start(t, fallbackClient, form("scope", "openid"))
	_, err := v.Deny(ctx, a.UserCode, pending.Caller{Address: "198.51.100.1"}, "")
	require.NoError(t, err)
	require.Equal(t, "access_denied", f.poll(t, fallbackClient, a.AuthReqID).Error(t))
	require.Empty(t, f.dir.enrolls)

	// Normal requests have no user code: their user-code space is not searchable.
	f.start(t, pollClient, form(aliceForm()...))

	b := f.start(t, fallbackClient, form("scope", "openid"))
	for i := 0; i < 20; i++ {
		_, err := v.Lookup(ctx, "BCDF-GHJK", pending.Caller{Address: "203.0.113.9"})
		require.ErrorIs(t, err, pending.ErrInvalidUserCode)
	}
	_, err = v.Lookup(ctx, b.UserCode, pending.Caller{Address: "203.0.113.9"})
	require.ErrorIs(t, err, pending.ErrTooManyAttempts, "the address is locked out, even with the right code")
	_, err = v.Lookup(ctx, b.UserCode, pending.Caller{Address: "198.51.100.1"})
	require.NoError(t, err, "other addresses are not")

	_, err = v.Approve(ctx, b.UserCode, pending.Caller{Address: "198.51.100.1"}, pending.Decision{Subject: "bob", Session: session("bob"), GrantedScopes: []string{"profile"}})
	require.ErrorIs(t, err, fosite.ErrInvalidScope)
	require.Empty(t, f.dir.enrolls, "nothing is enrolled when the approval is refused")
}
