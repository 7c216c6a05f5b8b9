package rfc8628_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
)

func requireInvalidUserCode(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, rfc8628.ErrInvalidUserCode)
	rfc := fosite.ErrorToRFC6749Error(err)
	require.Equal(t, "invalid_user_code", rfc.ErrorField)
	require.Equal(t, http.StatusBadRequest, rfc.StatusCode())
}

func requireTooManyAttempts(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, pending.ErrTooManyAttempts)
	rfc := fosite.ErrorToRFC6749Error(err)
	require.Equal(t, "temporarily_unavailable", rfc.ErrorField)
	require.Equal(t, http.StatusTooManyRequests, rfc.StatusCode())
}

// wrongCode returns a well-formed user code that is not code.
func wrongCode(code string) string {
	if strings.HasPrefix(code, "B") {
		return "C" + code[1:]
	}
	return "B" + code[1:]
}

// TestLookup: the verification page finds a request by what the user typed, normalised as RFC 8628
// §6.1 recommends, and shows who asks, for what and from where (§3.3, §5.4).
func TestLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := gt.New(t, nil)
	d := s.StartDevice(t, gt.PublicClientID, "openid photos")
	raw := strings.ReplaceAll(d.UserCode, "-", "")

	for _, tc := range []struct{ name, typed string }{
		{"as displayed", d.UserCode},
		{"lower case", strings.ToLower(d.UserCode)},
		{"without dash", raw},
		{"with spaces", " " + raw[:4] + " " + raw[4:] + " "},
		{"with a vowel typed by mistake", raw[:4] + "A" + raw[4:]},
		{"with unicode dash", raw[:4] + "–" + raw[4:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := s.Device.Verifier.Lookup(ctx, tc.typed, pending.Caller{Address: "192.0.2.1"})
			require.NoError(t, err)
			require.Equal(t, d.UserCode, a.UserCode)
			require.Equal(t, gt.PublicClientID, a.Client.GetID())
			require.Equal(t, fosite.Arguments{"openid", "photos"}, a.RequestedScopes)
			require.Equal(t, "127.0.0.1", a.Device.RemoteAddr)
			require.Equal(t, gt.UserAgent, a.Device.UserAgent)
			require.Equal(t, s.Clock.Now(), a.CreatedAt)
			require.Equal(t, s.Clock.Now().Add(10*time.Minute), a.ExpiresAt)
			require.NotEmpty(t, a.RequestID)
		})
	}

	for _, tc := range []struct{ name, typed string }{
		{"unknown code", wrongCode(d.UserCode)},
		{"too short", raw[:7]},
		{"too long", raw + "B"},
		{"empty", ""},
		{"only noise", "----"},
		{"digits", "12345678"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			_, err := s.Device.Verifier.Lookup(ctx, tc.typed, pending.Caller{Address: "192.0.2.2"})
			requireInvalidUserCode(t, err)
		})
	}

	t.Run("refuses an expired code", func(t *testing.T) {
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "")
		s.Clock.Advance(10 * time.Minute)
		_, err := s.Device.Verifier.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"})
		requireInvalidUserCode(t, err)
	})
}

// TestAttemptLimits: RFC 8628 §5.1. Once an address, or everyone, has reached the failure limit, even the
// right code is refused until the window passes.
func TestAttemptLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	limits := func(c *rfc8628.Options) {
		c.UserCodeLimits.PerAddress = 3
		c.UserCodeLimits.Global = 5
		c.UserCodeLimits.PerAccount = 3
		c.UserCodeLimits.Window = time.Minute
	}

	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		d := s.StartDevice(t, gt.PublicClientID, "")
		for i := 0; i < 3; i++ {
			_, err := v.Lookup(ctx, wrongCode(d.UserCode), pending.Caller{Address: "192.0.2.66"})
			requireInvalidUserCode(t, err)
		}
		_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"})
		requireTooManyAttempts(t, err)
		_, err = v.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"}, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
		requireTooManyAttempts(t, err)
		_, err = v.Deny(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"}, "alice", "")
		requireTooManyAttempts(t, err)

		_, err = v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"})
		require.NoError(t, err, "another address still works")

		s.Clock.Advance(time.Minute - time.Second)
		_, err = v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"})
		requireTooManyAttempts(t, err)
		s.Clock.Advance(time.Second)
		_, err = v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"})
		require.NoError(t, err, "the window passed")
	})

	t.Run("wrong-length codes count too", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		d := s.StartDevice(t, gt.PublicClientID, "")
		for i := 0; i < 3; i++ {
			_, err := v.Lookup(ctx, "B", pending.Caller{Address: "192.0.2.66"})
			requireInvalidUserCode(t, err)
		}
		_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"})
		requireTooManyAttempts(t, err)
	})

	t.Run("global", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		d := s.StartDevice(t, gt.PublicClientID, "")
		for _, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"} {
			_, err := v.Lookup(ctx, wrongCode(d.UserCode), pending.Caller{Address: addr})
			requireInvalidUserCode(t, err)
		}
		for _, addr := range []string{"192.0.2.1", "198.51.100.7"} {
			_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: addr})
			requireTooManyAttempts(t, err)
		}
		s.Clock.Advance(time.Minute)
		_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "198.51.100.7"})
		require.NoError(t, err)
	})

	t.Run("a flood from many addresses does not stop a signed-in person", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		d := s.StartDevice(t, gt.PublicClientID, "")
		for _, a := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"} {
			_, err := v.Lookup(ctx, wrongCode(d.UserCode), pending.Caller{Address: a})
			requireInvalidUserCode(t, err)
		}
		_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"})
		requireTooManyAttempts(t, err)
		alice := pending.Caller{Address: "192.0.2.1", Account: "alice"}
		_, err = v.LookupFor(ctx, d.UserCode, alice)
		require.NoError(t, err, "alice, signed in, types the right code")
		_, err = v.Approve(ctx, d.UserCode, alice, pending.Decision{Subject: "alice", Session: gt.Session("alice")})
		require.NoError(t, err)
	})

	t.Run("a signed-in person's wrong codes count per account", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		d := s.StartDevice(t, gt.PublicClientID, "")
		for _, a := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
			_, err := v.Lookup(ctx, wrongCode(d.UserCode), pending.Caller{Address: a, Account: "mallory"})
			requireInvalidUserCode(t, err)
		}
		_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "203.0.113.9", Account: "mallory"})
		requireTooManyAttempts(t, err)
		_, err = v.Lookup(ctx, d.UserCode, pending.Caller{Address: "203.0.113.1", Account: "alice"})
		require.NoError(t, err, "another account at the same address")
	})

	t.Run("a code already decided is not a wrong guess", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		decided := s.StartDevice(t, gt.PublicClientID, "")
		s.Approve(t, decided.UserCode, "alice")
		for i := 0; i < 5; i++ {
			_, err := v.Lookup(ctx, decided.UserCode, pending.Caller{Address: "192.0.2.66"})
			requireInvalidUserCode(t, err)
		}
		d := s.StartDevice(t, gt.PublicClientID, "")
		_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.66"})
		require.NoError(t, err, "a late second click on an approved code locks nobody out")
	})

	t.Run("successes do not count", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, limits)
		v := s.Device.Verifier
		d := s.StartDevice(t, gt.PublicClientID, "")
		for i := 0; i < 10; i++ {
			_, err := v.Lookup(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"})
			require.NoError(t, err)
		}
	})
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const addr = "192.0.2.1"
	approve := func(s *gt.Server, code string, d pending.Decision) error {
		_, err := s.Device.Verifier.Approve(ctx, code, pending.Caller{Address: addr}, d)
		return err
	}
	alice := func(scopes ...string) pending.Decision {
		return pending.Decision{Subject: "alice", Session: gt.Session("alice"), GrantedScopes: scopes}
	}

	for _, tc := range []struct {
		name     string
		decision pending.Decision
		check    func(t *testing.T, err error)
	}{
		{"scope not requested", alice("openid", "admin"), func(t *testing.T, err error) {
			require.ErrorIs(t, err, fosite.ErrInvalidScope)
		}},
		{"audience not requested", pending.Decision{Subject: "alice", Session: gt.Session("alice"), GrantedAudience: []string{"https://api.example.com"}},
			func(t *testing.T, err error) { require.ErrorIs(t, err, fosite.ErrInvalidRequest) }},
		{"no subject", pending.Decision{Session: gt.Session("")}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, fosite.ErrInvalidRequest)
		}},
		{"no session", pending.Decision{Subject: "alice"}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, fosite.ErrServerError)
		}},
		{"openid with a session for someone else", pending.Decision{Subject: "alice", Session: gt.Session("mallory")}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, fosite.ErrServerError)
		}},
		{"openid with a session that is not openid", pending.Decision{Subject: "alice", Session: &fosite.DefaultSession{Subject: "alice"}}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, fosite.ErrServerError)
		}},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			t.Parallel()
			s := gt.New(t, nil)
			d := s.StartDevice(t, gt.PublicClientID, "openid offline_access")
			tc.check(t, approve(s, d.UserCode, tc.decision))
			// A refused approval decides nothing: the request is still pending and can be approved.
			requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "authorization_pending")
			require.NoError(t, approve(s, d.UserCode, alice()))
		})
	}

	t.Run("without openid a plain session will do", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "photos")
		require.NoError(t, approve(s, d.UserCode, pending.Decision{Subject: "alice", Session: openid.NewDefaultSession()}))
	})

	t.Run("approve twice", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "openid")
		require.NoError(t, approve(s, d.UserCode, alice()))
		requireInvalidUserCode(t, approve(s, d.UserCode, alice()))
	})

	t.Run("deny then approve", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "openid")
		_, err := s.Device.Verifier.Deny(ctx, d.UserCode, pending.Caller{Address: addr}, "alice", "")
		require.NoError(t, err)
		requireInvalidUserCode(t, approve(s, d.UserCode, alice()))
		requireError(t, s.Poll(t, gt.PublicClientID, d.DeviceCode), http.StatusBadRequest, "access_denied")
	})

	t.Run("approve then deny", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "openid")
		require.NoError(t, approve(s, d.UserCode, alice()))
		_, err := s.Device.Verifier.Deny(ctx, d.UserCode, pending.Caller{Address: addr}, "alice", "")
		requireInvalidUserCode(t, err)
		requireTokens(t, s.Poll(t, gt.PublicClientID, d.DeviceCode))
	})

	t.Run("the code stops working after redemption", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d, _, _ := approveAndRedeem(t, s, gt.PublicClientID, "openid")
		_, err := s.Device.Verifier.Lookup(ctx, d.UserCode, pending.Caller{Address: addr})
		requireInvalidUserCode(t, err)
	})

	t.Run("approve records subject and actor", func(t *testing.T) {
		t.Parallel()
		s := gt.New(t, nil)
		d := s.StartDevice(t, gt.PublicClientID, "openid")
		dec := alice()
		dec.Actor = "kiosk-staff-7"
		s.Clock.Advance(30 * time.Second)
		require.NoError(t, approve(s, d.UserCode, dec))
		g := grantOf(t, s, d)
		require.Equal(t, pending.StateApproved, g.State)
		require.Equal(t, "alice", g.Subject)
		require.Equal(t, "kiosk-staff-7", g.Actor)
		require.Equal(t, s.Clock.Now(), g.DecidedAt)
	})
}
