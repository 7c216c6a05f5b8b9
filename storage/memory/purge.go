package memory

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
)

// Purge deletes what can no longer be used at now and returns how many entries it deleted. It follows
// the SQL store's Purge (storage/sql):
//
//   - pending grants (spent, denied or never decided) and authorization codes whose expiry lies more
//     than the retention period (WithRetention, 24 hours by default) before now: they are kept that
//     long after expiring so that a replayed handle or code is still recognised and what it issued
//     revoked;
//   - access and refresh tokens, PKCE sessions and pushed authorization requests whose expiry has
//     passed (tokens without an expiry are kept), and OpenID Connect sessions after the retention;
//   - the records of revoked grants after the retention, once none of their tokens is left;
//   - client-assertion JWT IDs whose expiry has passed, attempt counters whose window has passed, and
//     single-use keys whose expiry has passed;
//   - the grants' own records after the retention: CIBA e-mail/SMS links, CIBA SMS reply codes, and
//     delivered or failed outbox messages with their attempt log.
//
// Purge looks only at what expired (each map's keys are queued by expiry) and deletes it in batches of
// purgeBatch, each under the map's lock, so that a request waits for one batch at most. A map that
// lost most of its entries is copied into a smaller one, since Go maps keep their memory after
// deletes.
func (s *MemoryStore) Purge(ctx context.Context, now time.Time) (int, error) {
	keep := now.Add(-s.opts.retention)
	total := 0

	// Pending grants, with their user-code entries: a newer grant may have claimed the user code since
	// (CreatePendingGrant), in which case the entry stays with it.
	codes := 0
	total += purgeQueue(&s.mu, &s.grants, &s.grantsExp, keep, func(g *pending.Grant) time.Time { return g.ExpiresAt },
		func(_ grantKey, g *pending.Grant) {
			ukey := grantKey{g.Kind, g.UserCodeSignature}
			if g.UserCodeSignature != "" && s.userCodes[ukey] == g.HandleSignature {
				delete(s.userCodes, ukey)
				codes++
			}
		})
	s.mu.Lock()
	s.userCodes = shrink(s.userCodes, codes)
	s.mu.Unlock()
	total += purgeQueue(&s.mu, &s.attempts, &s.attemptsExp, now.Add(1), func(a attempt) time.Time { return a.end }, nil)

	t := &s.tokens
	expiry := func(r *storedRequest) time.Time { return r.expiresAt }
	total += purgeQueue(&t.mu, &t.codes, &t.codesExp, keep, expiry, nil)
	total += purgeQueue(&t.mu, &t.pkce, &t.pkceExp, now, expiry, nil)
	total += purgeQueue(&t.mu, &t.oidc, &t.oidcExp, keep, expiry, nil)
	total += purgeQueue(&t.mu, &t.par, &t.parExp, now, expiry, nil)
	total += purgeQueue(&t.mu, &t.access, &t.accessExp, now, expiry, func(sig string, r *storedRequest) { t.forget(r.req.GetID(), sig, false) })
	total += purgeQueue(&t.mu, &t.refresh, &t.refreshExp, now, expiry, func(sig string, r *storedRequest) { t.forget(r.req.GetID(), sig, true) })
	total += purgeQueue(&t.mu, &t.grants, &t.grantsExp, keep, (*tokenGrant).expiry, nil)

	total += s.links.Purge(keep)
	total += s.sms.Purge(keep)
	total += purgeQueue(&s.kiosk.mu, &s.kiosk.once, &s.kiosk.expiries, now.Add(1), func(exp time.Time) time.Time { return exp }, nil)

	for jtis := 0; ; {
		s.jtis.mu.Lock()
		taken, forgot := s.jtis.forgetExpired(now, purgeBatch)
		jtis += forgot
		if taken < purgeBatch {
			s.jtis.expires = shrink(s.jtis.expires, jtis)
		}
		s.jtis.mu.Unlock()
		if taken < purgeBatch {
			total += jtis
			break
		}
	}

	n, err := s.PurgeOutbox(ctx, keep)
	s.outbox.mu.Lock()
	s.outbox.messages = shrink(s.outbox.messages, n)
	s.outbox.attempts = shrink(s.outbox.attempts, n)
	s.outbox.mu.Unlock()
	return total + n, err
}

// RunPurge calls Purge every interval (at the store's clock, see WithClock) until ctx is done, and
// returns ctx's error. Errors of single runs go to onError when it is not nil; the loop goes on.
func (s *MemoryStore) RunPurge(ctx context.Context, every time.Duration, onError func(error)) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if _, err := s.Purge(ctx, s.now()); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
