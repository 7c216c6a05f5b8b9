package pending

import (
	"errors"
	"time"

	"github.com/ory/fosite"
)

// ErrReplayed marks the answer to a handle that was already redeemed. It is invalid_grant on the wire;
// callers test for it with errors.Is to revoke what the first redemption issued.
var ErrReplayed = errors.New("pending: handle already redeemed")

// Check is the one place that maps a stored grant, the client presenting its handle, and the time to
// the answer the token endpoint gives (RFC 8628 §3.5, CIBA §11). It returns nil only when the grant is
// approved and may be redeemed now. The order matters and follows the specs' intent:
//
//  1. another client's handle → invalid_grant (the handle is bound to its client; RFC 6749 §5.2);
//  2. already consumed → invalid_grant, wrapping ErrReplayed so that the caller revokes;
//  3. expired → expired_token, whatever the state, so that a code nobody used says so at the end
//     instead of "pending" forever;
//  4. denied → access_denied;
//  5. pending → authorization_pending (the caller turns it into slow_down when the poll came too soon;
//     see Storage.RecordPoll);
//  6. approved → nil.
func Check(g *Grant, clientID string, now time.Time) error {
	switch {
	case g == nil:
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.")
	case g.ClientID() != clientID:
		// Same answer as an unknown handle: a client learns nothing about other clients' handles.
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.").
			WithDebugf("The handle was issued to client %q, not %q.", g.ClientID(), clientID)
	case g.State == StateConsumed:
		return fosite.ErrInvalidGrant.WithHint("The handle has already been used.").WithWrap(ErrReplayed)
	case g.Expired(now):
		return ErrExpiredToken
	case g.State == StateDenied:
		return ErrAccessDenied
	case g.State == StatePending:
		return ErrAuthorizationPending
	case g.State == StateApproved:
		return nil
	default:
		return fosite.ErrServerError.WithDebugf("Pending grant in unknown state %q.", g.State)
	}
}
