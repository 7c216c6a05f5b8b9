package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/clock"
)

// DefaultClientCacheTTL is how long GetClient answers from memory when WithClientCache is not given.
const DefaultClientCacheTTL = time.Second

// clientCacheMax bounds the cache: past it, new clients are read but not kept until expired entries
// are swept out. Unknown client IDs are never kept, so guessing IDs cannot fill it.
const clientCacheMax = 10_000

// WithClientCache keeps clients read by GetClient in memory for ttl. A token request reads its client
// at least twice (client authentication, then the stored request's client), and a pending poll is
// little more than that: on SQLite the reads are a third of a poll.
//
// Changes made through this Store (CreateClient, UpdateClient, SetClient, DeleteClient) drop the
// entry at once. Changes made by another server instance or directly in the database are seen after
// at most ttl: a deleted client, or a rotated secret, still works for that long on the other instances.
// Reads inside a transaction neither use nor fill the cache. 0 turns the cache off; the default is
// DefaultClientCacheTTL.
func WithClientCache(ttl time.Duration) Option {
	return func(o *options) { o.clientTTL, o.clientTTLSet = ttl, true }
}

type clientCache struct {
	mu      sync.RWMutex
	entries map[string]clientEntry
}

type clientEntry struct {
	client  fosite.Client
	expires time.Time
}

// cachedClient returns the cached client id, if the cache is on, ctx carries no transaction of s and
// the entry is fresh.
func (s *Store) cachedClient(ctx context.Context, id string) (fosite.Client, bool) {
	if s.opts.clientTTL <= 0 || s.inTx(ctx) {
		return nil, false
	}
	s.clients.mu.RLock()
	e, ok := s.clients.entries[id]
	s.clients.mu.RUnlock()
	if !ok || !clock.Now(s.opts.now).Before(e.expires) {
		return nil, false
	}
	return e.client, true
}

// cacheClient keeps c, read at the time read, for the TTL.
func (s *Store) cacheClient(ctx context.Context, id string, c fosite.Client, read time.Time) {
	if s.opts.clientTTL <= 0 || s.inTx(ctx) {
		return
	}
	s.clients.mu.Lock()
	defer s.clients.mu.Unlock()
	if s.clients.entries == nil {
		s.clients.entries = make(map[string]clientEntry)
	}
	if len(s.clients.entries) >= clientCacheMax {
		now := clock.Now(s.opts.now)
		for k, e := range s.clients.entries {
			if !now.Before(e.expires) {
				delete(s.clients.entries, k)
			}
		}
		if len(s.clients.entries) >= clientCacheMax {
			return
		}
	}
	s.clients.entries[id] = clientEntry{client: c, expires: read.Add(s.opts.clientTTL)}
}

// forgetClient drops id from the cache (before and after a change, so that a read racing the change
// cannot keep the old row).
func (s *Store) forgetClient(id string) {
	s.clients.mu.Lock()
	delete(s.clients.entries, id)
	s.clients.mu.Unlock()
}

// inTx reports whether ctx carries a transaction of s, or one s joins (WithContextTx).
func (s *Store) inTx(ctx context.Context) bool {
	st, ok := ctx.Value(txKey{}).(*txState)
	return ok && st.store == s || s.contextTx(ctx) != nil
}
