package otp

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
)

// ChallengeStorage is what the OTP grant needs of a store besides pending.Storage: replacing the code of
// a challenge in one atomic step.
type ChallengeStorage interface {
	// SetChallengeCode makes codeSignature the only valid code of the pending OTP challenge with that
	// handle signature, records channel (a channel ID, kept in the grant's Extra["channel"]) and sentAt
	// (the grant's CodeSentAt). It is one conditional update: it returns pending.ErrStateChanged,
	// changing nothing, unless the challenge is PENDING, not expired at sentAt, and its previous code
	// (if any) was sent at least the challenge's ResendInterval before sentAt; and pending.ErrNotFound
	// when there is no such challenge.
	SetChallengeCode(ctx context.Context, handleSignature, codeSignature, channel string, sentAt time.Time) error
}

// Storage is everything the OTP grant needs of a store: its clients (to authenticate them), pending
// grants and fosite's token stores (to issue, and to revoke on replay), attempt counters (quotas and
// guesses), and ChallengeStorage. The memory and SQL stores of this module implement it.
type Storage interface {
	fosite.Storage
	pending.TokenStorage
	pending.AttemptStorage
	ChallengeStorage
}
