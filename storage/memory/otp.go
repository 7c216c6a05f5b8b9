package memory

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/pending"
)

var _ otp.Storage = (*MemoryStore)(nil)

// SetChallengeCode implements otp.ChallengeStorage: under the store's lock, it checks that the challenge
// is pending, not expired at sentAt and past its resend interval, then replaces its code, channel and
// send time.
func (s *MemoryStore) SetChallengeCode(_ context.Context, handleSignature, codeSignature, channel string, sentAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := grantKey{pending.KindOTP, handleSignature}
	g, ok := s.grants[key]
	if !ok {
		return pending.ErrNotFound
	}
	if g.State != pending.StatePending || g.Expired(sentAt) ||
		(!g.CodeSentAt.IsZero() && sentAt.Before(g.CodeSentAt.Add(g.ResendInterval))) {
		return pending.ErrStateChanged
	}
	c := cloneGrant(g)
	if c.UserCodeSignature != "" {
		delete(s.userCodes, grantKey{pending.KindOTP, c.UserCodeSignature})
	}
	c.UserCodeSignature = codeSignature
	if codeSignature != "" {
		s.userCodes[grantKey{pending.KindOTP, codeSignature}] = handleSignature
	}
	c.CodeSentAt = sentAt
	if c.Extra == nil {
		c.Extra = map[string]string{}
	}
	c.Extra["channel"] = channel
	s.grants[key] = c
	return nil
}
