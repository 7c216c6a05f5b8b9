package sqlstore

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/internal/clock"
)

// Purge deletes what can no longer be used at now and returns how many rows it deleted:
//
//   - pending grants and authorization codes whose expiry lies more than the retention period
//     (WithRetention, 24 hours by default) before now; they are kept that long after expiring so that
//     a replayed handle or code is still recognised and what it issued revoked;
//   - access and refresh tokens, PKCE and OpenID Connect sessions and pushed authorization requests
//     whose expiry has passed (rows without an expiry are kept);
//   - client-assertion JWT IDs whose expiry has passed, and attempt counters whose window has passed;
//   - the grants' own records kept for the same retention period: CIBA request records and e-mail/SMS
//     links, single-use keys (alert deactivation links), and delivered or failed outbox messages with
//     their attempt log;
//   - browser sign-in sessions whose expiry has passed.
//
// Every delete uses an index on its expiry column. Purge is safe to run on several instances at once.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	t := now.UnixNano()
	keep := now.Add(-s.opts.retention).UnixNano()
	steps := []struct {
		what, query string
		before      int64
	}{
		{"pending grants", "DELETE FROM pending_grants WHERE expires_at < ?", keep},
		{"authorization codes", "DELETE FROM " + tableAuthorizeCodes + " WHERE expires_at < ?", keep},
		{"access tokens", "DELETE FROM " + tableAccessTokens + " WHERE expires_at < ?", t},
		{"refresh tokens", "DELETE FROM " + tableRefreshTokens + " WHERE expires_at < ?", t},
		{"PKCE sessions", "DELETE FROM " + tablePKCE + " WHERE expires_at < ?", t},
		{"OpenID Connect sessions", "DELETE FROM " + tableOIDC + " WHERE expires_at < ?", keep},
		{"pushed authorization requests", "DELETE FROM " + tablePAR + " WHERE expires_at < ?", t},
		{"JWT IDs", "DELETE FROM oauth2_jtis WHERE expires_at < ?", t},
		{"attempt counters", "DELETE FROM pending_attempts WHERE window_end <= ?", t},
		{"CIBA links", "DELETE FROM ciba_links WHERE expires_at < ?", keep},
		{"single-use keys", "DELETE FROM pending_once WHERE expires_at <= ?", t},
	}
	total := 0
	for _, st := range steps {
		n, err := s.execAffected(ctx, st.query, st.before)
		if err != nil {
			return total, wrap(err, "purge "+st.what)
		}
		total += int(n)
	}
	n, err := s.PurgeOutbox(ctx, now.Add(-s.opts.retention))
	if err != nil {
		return total, err
	}
	total += n
	// Browser sign-in sessions that have expired (package signin), in batches.
	if n, err = s.purgeSignInSessions(ctx, now); err != nil {
		return total, err
	}
	return total + n, nil
}

// RunPurge calls Purge every interval (at the store's clock, see WithClock) until ctx is done, and
// returns ctx's error. Errors of single runs go to onError when it is not nil; the loop goes on.
func (s *Store) RunPurge(ctx context.Context, every time.Duration, onError func(error)) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if _, err := s.Purge(ctx, clock.Now(s.opts.now)); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
