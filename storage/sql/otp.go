package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/pending"
)

var _ otp.Storage = (*Store)(nil)

// SetChallengeCode implements otp.ChallengeStorage with one conditional UPDATE: the row changes only
// when the challenge is pending, not expired at sentAt, and its last code was sent at least its resend interval
// before sentAt, so that of concurrent sends on any number of instances at most one per interval wins.
// The send time is kept in code_sent_at and the channel in extra.channel.
func (s *Store) SetChallengeCode(ctx context.Context, handleSignature, codeSignature, channel string, sentAt time.Time) error {
	setExtra := "json_set(extra, '$.channel', ?)"
	if s.dialect == postgres {
		setExtra = "extra || jsonb_build_object('channel', ?::text)"
	}
	t := sentAt.UnixNano()
	n, err := s.execAffected(ctx, `UPDATE pending_grants SET user_code_signature = ?, code_sent_at = ?, extra = `+setExtra+`
		WHERE kind = ? AND handle_signature = ? AND state = ? AND expires_at > ?
		AND (code_sent_at IS NULL OR code_sent_at + resend_interval_ns <= ?)`,
		sql.NullString{String: codeSignature, Valid: codeSignature != ""}, t, channel, string(pending.KindOTP), handleSignature, string(pending.StatePending), t, t)
	if err != nil {
		return wrap(err, "set otp challenge code")
	}
	if n == 0 {
		return s.missingOrChanged(ctx, pending.KindOTP, handleSignature)
	}
	return nil
}
