package clientauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"
)

// DefaultTTL is how long a successful comparison is remembered when
// CachingHasher.TTL is zero.
const DefaultTTL = 5 * time.Minute

// DefaultMaxEntries bounds the cache when CachingHasher.MaxEntries is zero.
// One entry is about 100 bytes, so the default costs well under a megabyte.
const DefaultMaxEntries = 4096

// errNoHasher is returned when CachingHasher.Hasher is nil.
var errNoHasher = errors.New("clientauth: CachingHasher.Hasher is nil")

// CachingHasher is a fosite.Hasher that remembers successful comparisons of
// client secrets (RFC 6749 §2.3.1) for a short time, so that a client polling
// the token endpoint (RFC 8628 §3.4, OpenID CIBA §7.3) pays for bcrypt once
// per TTL instead of once per request. See the package documentation for the
// security argument and its trade-off.
//
// Compare consults a bounded LRU cache keyed by HMAC-SHA256, under a random
// per-process key, of the length-prefixed stored hash followed by the
// presented secret. Only successful comparisons are cached; failures always
// reach the wrapped Hasher. Concurrent misses for the same pair share one call
// to the wrapped Hasher. Hash passes through unchanged.
//
// The wrapped Hasher's Compare must be a pure function of (hash, data), as
// bcrypt is. Set the fields before first use and do not change them
// afterwards. A CachingHasher is safe for concurrent use and must not be
// copied after first use.
type CachingHasher struct {
	// Hasher does the real work. Required.
	Hasher fosite.Hasher

	// TTL is how long a successful comparison is trusted, counted from the
	// moment the wrapped Hasher confirmed it (a hit does not extend it).
	// Zero means DefaultTTL; a negative value disables caching.
	TTL time.Duration

	// MaxEntries bounds the number of cached comparisons; the least recently
	// used entry is evicted first. Zero means DefaultMaxEntries.
	MaxEntries int

	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	once  sync.Once
	key   [32]byte
	macs  sync.Pool // of *macState keyed with key, reused so that a cache hit allocates nothing
	mu    sync.Mutex
	cache *lru
	calls singleflight.Group
}

var _ fosite.Hasher = (*CachingHasher)(nil)

func (h *CachingHasher) init() {
	h.once.Do(func() {
		// crypto/rand.Read never returns an error on supported platforms
		// (Go 1.24+ crashes the program instead), so there is nothing to handle.
		_, _ = rand.Read(h.key[:])
		h.macs.New = func() interface{} { return &macState{h: hmac.New(sha256.New, h.key[:])} }
		limit := h.MaxEntries
		if limit <= 0 {
			limit = DefaultMaxEntries
		}
		h.cache = newLRU(limit)
	})
}

func (h *CachingHasher) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *CachingHasher) ttl() time.Duration {
	if h.TTL == 0 {
		return DefaultTTL
	}
	return h.TTL
}

// Hash hashes data with the wrapped Hasher. Nothing is cached.
func (h *CachingHasher) Hash(ctx context.Context, data []byte) ([]byte, error) {
	if h.Hasher == nil {
		return nil, errNoHasher
	}
	return h.Hasher.Hash(ctx, data)
}

// Compare returns nil when data is the secret that hash was made from. A pair
// that the wrapped Hasher confirmed within the last TTL is answered from the
// cache; anything else, including every wrong secret, goes to the wrapped
// Hasher, whose error is returned unchanged.
//
// When ctx comes from a Limiter's AuthenticateClient, a pair that is not
// cached goes to the wrapped Hasher only if the Limiter permits it; otherwise
// Compare returns the Limiter's refusal without computing anything. A cached
// pair never asks the Limiter.
func (h *CachingHasher) Compare(ctx context.Context, hash, data []byte) error {
	if h.Hasher == nil {
		return errNoHasher
	}
	if h.ttl() < 0 {
		if err := permitHash(ctx); err != nil {
			return err
		}
		return h.Hasher.Compare(ctx, hash, data)
	}
	h.init()

	mac := h.mac(hash, data)
	if h.lookup(mac) {
		return nil
	}
	if err := permitHash(ctx); err != nil {
		return err
	}
	return h.compareMiss(ctx, hash, data, mac)
}

// compareMiss asks the wrapped Hasher. It is a function of its own so that a cache hit does not pay
// for the closure below (mac would escape to the heap).
func (h *CachingHasher) compareMiss(ctx context.Context, hash, data []byte, mac [sha256.Size]byte) error {
	// Callers presenting the very same (hash, secret) pair at the same time
	// share one comparison: they would all get the same answer anyway. The
	// shared call runs without the first caller's cancellation so that one
	// impatient caller cannot fail the others; each caller still stops
	// waiting when its own context ends.
	result := h.calls.DoChan(string(mac[:]), func() (interface{}, error) {
		if err := h.Hasher.Compare(context.WithoutCancel(ctx), hash, data); err != nil {
			return nil, err
		}
		h.store(mac)
		return nil, nil
	})
	select {
	case r := <-result:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// macState is a keyed HMAC-SHA256 with scratch space, so that computing a MAC does not allocate.
type macState struct {
	h   hash.Hash
	n   [8]byte
	out [sha256.Size]byte
}

// mac returns HMAC-SHA256(key, len(hash) || hash || data). The length prefix
// keeps (hash, data) pairs that concatenate to the same bytes apart.
func (h *CachingHasher) mac(hash, data []byte) [sha256.Size]byte {
	m := h.macs.Get().(*macState)
	m.h.Reset()
	binary.BigEndian.PutUint64(m.n[:], uint64(len(hash)))
	m.h.Write(m.n[:])
	m.h.Write(hash)
	m.h.Write(data)
	m.h.Sum(m.out[:0])
	out := m.out
	h.macs.Put(m)
	return out
}

// lookup reports whether mac names an unexpired successful comparison.
func (h *CachingHasher) lookup(mac [sha256.Size]byte) bool {
	idx := indexOf(mac)
	now := h.now()

	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.cache.get(idx)
	if e == nil {
		return false
	}
	if !now.Before(e.expires) {
		h.cache.remove(idx)
		return false
	}
	// The map index is only half of the MAC; the whole MAC must match.
	return subtle.ConstantTimeCompare(e.mac[:], mac[:]) == 1
}

// store remembers that mac names a successful comparison.
func (h *CachingHasher) store(mac [sha256.Size]byte) {
	expires := h.now().Add(h.ttl())
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cache.put(indexOf(mac), mac, expires)
}

// len returns the number of cached entries, expired or not.
func (h *CachingHasher) len() int {
	h.init()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cache.len()
}

func indexOf(mac [sha256.Size]byte) (idx [16]byte) {
	copy(idx[:], mac[:16])
	return idx
}
