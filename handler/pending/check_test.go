package pending_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

func grantFor(clientID string, state pending.State, expiresAt time.Time) *pending.Grant {
	req := fosite.NewRequest()
	req.Client = &fosite.DefaultClient{ID: clientID}
	return &pending.Grant{
		Kind:            pending.KindDeviceCode,
		HandleSignature: "sig",
		Request:         req,
		State:           state,
		CreatedAt:       expiresAt.Add(-10 * time.Minute),
		ExpiresAt:       expiresAt,
		Interval:        5 * time.Second,
	}
}

// TestCheck walks every state × expiry × client combination through Check (RFC 8628 §3.5, the order
// documented on Check).
func TestCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	const owner = "owner"

	type want struct {
		err      error // nil: approved, may be redeemed
		code     string
		replayed bool
	}
	expect := func(state pending.State, expired, sameClient bool) want {
		switch {
		case !sameClient:
			return want{err: fosite.ErrInvalidGrant, code: "invalid_grant"}
		case state == pending.StateConsumed:
			return want{err: fosite.ErrInvalidGrant, code: "invalid_grant", replayed: true}
		case expired:
			return want{err: pending.ErrExpiredToken, code: "expired_token"}
		case state == pending.StateDenied:
			return want{err: pending.ErrAccessDenied, code: "access_denied"}
		case state == pending.StatePending:
			return want{err: pending.ErrAuthorizationPending, code: "authorization_pending"}
		default:
			return want{}
		}
	}

	expiries := []struct {
		name    string
		at      time.Time
		expired bool
	}{
		{"live", now.Add(time.Second), false},
		{"expires-now", now, true}, // the instant of expiry is already too late
		{"expired", now.Add(-time.Minute), true},
	}
	for _, state := range []pending.State{pending.StatePending, pending.StateApproved, pending.StateDenied, pending.StateConsumed} {
		for _, exp := range expiries {
			for _, client := range []string{owner, "someone-else"} {
				name := fmt.Sprintf("%s/%s/%s", state, exp.name, client)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					w := expect(state, exp.expired, client == owner)
					err := pending.Check(grantFor(owner, state, exp.at), client, now)
					if w.err == nil {
						require.NoError(t, err)
						return
					}
					require.ErrorIs(t, err, w.err)
					rfc := fosite.ErrorToRFC6749Error(err)
					require.Equal(t, w.code, rfc.ErrorField)
					require.Equal(t, http.StatusBadRequest, rfc.StatusCode())
					require.Equal(t, w.replayed, errors.Is(err, pending.ErrReplayed))

					body, jerr := json.Marshal(rfc)
					require.NoError(t, jerr)
					var m map[string]interface{}
					require.NoError(t, json.Unmarshal(body, &m))
					require.Equal(t, w.code, m["error"])
					require.NotEmpty(t, m["error_description"])
					require.NotContains(t, string(body), "someone-else", "the other client's ID is debug only")
				})
			}
		}
	}

	t.Run("nil grant is invalid_grant", func(t *testing.T) {
		t.Parallel()
		err := pending.Check(nil, owner, now)
		require.ErrorIs(t, err, fosite.ErrInvalidGrant)
		require.NotErrorIs(t, err, pending.ErrReplayed)
	})
	t.Run("grant without client is invalid_grant", func(t *testing.T) {
		t.Parallel()
		g := grantFor(owner, pending.StateApproved, now.Add(time.Minute))
		g.Request = nil
		require.ErrorIs(t, pending.Check(g, owner, now), fosite.ErrInvalidGrant)
	})
	t.Run("unknown state is server_error", func(t *testing.T) {
		t.Parallel()
		err := pending.Check(grantFor(owner, "bogus", now.Add(time.Minute)), owner, now)
		require.ErrorIs(t, err, fosite.ErrServerError)
	})
	t.Run("access_denied is 400, not fosite's 403", func(t *testing.T) {
		t.Parallel()
		err := pending.Check(grantFor(owner, pending.StateDenied, now.Add(time.Minute)), owner, now)
		require.NotErrorIs(t, err, fosite.ErrAccessDenied, "fosite's access_denied answers 403")
	})
}

// TestErrorSentinels pins the wire form of the error codes fosite lacks (RFC 8628 §3.5, §5.1).
func TestErrorSentinels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    *pending.Error
		code   string
		status int
	}{
		{pending.ErrAuthorizationPending, "authorization_pending", http.StatusBadRequest},
		{pending.ErrSlowDown, "slow_down", http.StatusBadRequest},
		{pending.ErrExpiredToken, "expired_token", http.StatusBadRequest},
		{pending.ErrAccessDenied, "access_denied", http.StatusBadRequest},
		{pending.ErrTooManyAttempts, "temporarily_unavailable", http.StatusTooManyRequests},
		{pending.ErrInvalidUserCode, "invalid_user_code", http.StatusBadRequest},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			// fosite writes the bare sentinel and its copies alike.
			for _, err := range []error{tc.err, tc.err.WithHint("a hint"), tc.err.WithWrap(errors.New("cause"))} {
				rfc := fosite.ErrorToRFC6749Error(err)
				require.Equal(t, tc.code, rfc.ErrorField)
				require.Equal(t, tc.status, rfc.StatusCode())
				require.NotEmpty(t, rfc.DescriptionField)
				require.ErrorIs(t, err, tc.err)
			}
			require.Equal(t, "a hint", fosite.ErrorToRFC6749Error(tc.err.WithHint("a hint")).HintField)
			// With* copies: the sentinel itself is never changed.
			require.Empty(t, tc.err.RFC6749().HintField)
		})
	}
}

// TestErrorsAreDistinct: errors with the same code are still different errors under errors.Is, which
// fosite's own RFC6749Error cannot tell apart (it compares only code and status); and each is still
// the fosite error of its code.
func TestErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	a := pending.NewError("slow_down", "a", http.StatusBadRequest)
	require.NotErrorIs(t, a, pending.ErrSlowDown)
	require.NotErrorIs(t, a.WithHint("h"), pending.ErrSlowDown)
	require.NotErrorIs(t, pending.ErrSlowDown.WithHint("h"), a)
	require.NotErrorIs(t, a.WithWrap(pending.ErrReplayed), pending.ErrSlowDown)
	require.ErrorIs(t, a.WithWrap(pending.ErrReplayed), pending.ErrReplayed)
	require.ErrorIs(t, a.WithWrap(pending.ErrReplayed), a)

	invalid := pending.NewError("invalid_request", "x", http.StatusBadRequest)
	require.ErrorIs(t, invalid, fosite.ErrInvalidRequest, "an invalid_request of ours is fosite's invalid_request")
	require.ErrorIs(t, invalid.WithHint("h"), fosite.ErrInvalidRequest)
	require.NotErrorIs(t, invalid, fosite.ErrInvalidGrant)
}
