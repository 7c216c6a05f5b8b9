package rfc8628_test

import (
	"context"
	"testing"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/stretchr/testify/require"
)

// TestKioskListsByAccount: requests made naming one account in different ways ("acct-1042", its
// e-mail, its e-mail in other letter case) are all listed under any of them, with the hint each device
// sent; a hint the directory does not know is kept as sent; a request of another account is not listed.
func TestKioskListsByAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, k := kioskServer(t, func(o *rfc8628.Options) {
		o.Kiosk.Accounts = accountMap{"acct-1042": "customer-1042", "ana@example.com": "customer-1042", "Ana@Example.com": "customer-1042",
			"acct-2000": "customer-2000"}
	})
	byNumber := startFor(t, s, gt.PublicClientID, "acct-1042")
	s.Clock.Advance(time.Second)
	byMail := startFor(t, s, gt.PublicClientID, "ana@example.com")
	s.Clock.Advance(time.Second)
	byMailCase := startFor(t, s, gt.PublicClientID, "Ana@Example.com")
	startFor(t, s, gt.PublicClientID, "acct-2000")
	startFor(t, s, gt.PublicClientID, "nobody@example.com")

	for _, typed := range []string{"acct-1042", "ana@example.com", "Ana@Example.com"} {
		list, err := k.Pending(ctx, "clerk-7", typed)
		require.NoError(t, err)
		var hints []string
		for _, r := range list {
			hints = append(hints, r.LoginHint)
			require.Equal(t, "customer-1042", r.Account)
		}
		require.Equal(t, []string{"acct-1042", "ana@example.com", "Ana@Example.com"}, hints, "typed %q", typed)
	}

	// The verification API still shows the hint the device sent; the grant is filed under the account.
	a, err := s.Device.Verifier.Lookup(ctx, byMailCase.UserCode, pending.Caller{Address: "192.0.2.1"})
	require.NoError(t, err)
	require.Equal(t, "Ana@Example.com", a.LoginHint)

	// Staff approve a request made by e-mail while having looked the account up by number.
	list, err := k.Pending(ctx, "clerk-7", "acct-1042")
	require.NoError(t, err)
	_, err = k.Approve(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "acct-1042", RequestID: list[1].RequestID, UserCode: byMail.UserCode,
		Proofing: rfc8628.Proofing{Method: "passport"}})
	require.NoError(t, err)
	_, err = k.Deny(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "ana@example.com", RequestID: list[0].RequestID})
	require.NoError(t, err)
	require.Equal(t, "access_denied", s.Poll(t, gt.PublicClientID, byNumber.DeviceCode).Error(t))

	// Another account's code is refused even when the account is typed another way.
	other, err := k.Pending(ctx, "clerk-7", "acct-2000")
	require.NoError(t, err)
	require.Len(t, other, 1)
	_, err = k.Approve(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "ana@example.com", RequestID: other[0].RequestID, UserCode: byMailCase.UserCode,
		Proofing: rfc8628.Proofing{Method: "passport"}})
	require.ErrorIs(t, err, rfc8628.ErrInvalidUserCode)
}

// TestKioskListsRequestsFiledAsSent: a request filed under the hint as sent (before hints were resolved,
// or when the directory did not know it then) is still listed when staff type that hint.
func TestKioskListsRequestsFiledAsSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	accounts := accountMap{"acct-1042": "customer-1042"}
	s, _, k := kioskServer(t, func(o *rfc8628.Options) { o.Kiosk.Accounts = accounts })
	early := startFor(t, s, gt.PublicClientID, "ana@example.com") // the directory does not know it yet
	accounts["ana@example.com"] = "customer-1042"
	s.Clock.Advance(time.Second)
	startFor(t, s, gt.PublicClientID, "acct-1042")

	list, err := k.Pending(ctx, "clerk-7", "ana@example.com")
	require.NoError(t, err)
	require.Len(t, list, 2, "typed as the device sent it, both are listed")
	list, err = k.Pending(ctx, "clerk-7", "acct-1042")
	require.NoError(t, err)
	require.Len(t, list, 1, "nothing links a hint filed as sent to the account's other names")
	_, err = k.Approve(ctx, rfc8628.KioskDecision{Actor: "clerk-7", LoginHint: "ana@example.com", UserCode: early.UserCode,
		Proofing: rfc8628.Proofing{Method: "passport"}})
	require.NoError(t, err)
}
