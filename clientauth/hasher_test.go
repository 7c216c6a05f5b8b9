package clientauth

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// countingHasher is a real fosite.BCrypt that counts its Compare calls.
// When gate is set, Compare signals entered and then waits for gate to close
// before doing the real comparison.
type countingHasher struct {
	fosite.BCrypt
	compares atomic.Int64
	entered  chan struct{}
	gate     chan struct{}
}

func newCountingHasher() *countingHasher {
	return &countingHasher{BCrypt: fosite.BCrypt{Config: &fosite.Config{HashCost: bcrypt.MinCost}}}
}

func (c *countingHasher) Compare(ctx context.Context, hash, data []byte) error {
	c.compares.Add(1)
	if c.gate != nil {
		c.entered <- struct{}{}
		<-c.gate
	}
	return c.BCrypt.Compare(ctx, hash, data)
}

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	inner  *countingHasher
	clock  *clock
	hasher *CachingHasher
}

func newFixture(t *testing.T, maxEntries int) *fixture {
	t.Helper()
	f := &fixture{inner: newCountingHasher(), clock: newClock()}
	f.hasher = &CachingHasher{Hasher: f.inner, Now: f.clock.Now, MaxEntries: maxEntries}
	return f
}

func (f *fixture) hash(t *testing.T, secret string) []byte {
	t.Helper()
	h, err := f.hasher.Hash(context.Background(), []byte(secret))
	require.NoError(t, err)
	return h
}

func (f *fixture) compare(hash []byte, secret string) error {
	return f.hasher.Compare(context.Background(), hash, []byte(secret))
}

func TestCompare(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{
			name: "repeated correct secret costs one bcrypt",
			run: func(t *testing.T, f *fixture) {
				h := f.hash(t, "s3cret")
				for range 5 {
					require.NoError(t, f.compare(h, "s3cret"))
				}
				require.EqualValues(t, 1, f.inner.compares.Load())
			},
		},
		{
			name: "wrong secret always fails and is never cached",
			run: func(t *testing.T, f *fixture) {
				h := f.hash(t, "s3cret")
				for range 3 {
					err := f.compare(h, "guess")
					require.ErrorIs(t, err, bcrypt.ErrMismatchedHashAndPassword)
				}
				require.EqualValues(t, 3, f.inner.compares.Load())
				require.Zero(t, f.hasher.len())
			},
		},
		{
			name: "cached correct secret does not let a wrong one through",
			run: func(t *testing.T, f *fixture) {
				h := f.hash(t, "s3cret")
				require.NoError(t, f.compare(h, "s3cret"))
				require.Error(t, f.compare(h, "s3cret "))
				require.Error(t, f.compare(h, ""))
				require.Error(t, f.compare(nil, "s3cret"))
			},
		},
		{
			name: "changed stored hash misses the cache",
			run: func(t *testing.T, f *fixture) {
				old := f.hash(t, "s3cret")
				require.NoError(t, f.compare(old, "s3cret"))

				// Rotation to a new secret: the old secret no longer works.
				rotated := f.hash(t, "n3w")
				require.Error(t, f.compare(rotated, "s3cret"))
				require.NoError(t, f.compare(rotated, "n3w"))

				// Re-hashing the same secret (new salt) is a new cache key too.
				rehashed := f.hash(t, "s3cret")
				before := f.inner.compares.Load()
				require.NoError(t, f.compare(rehashed, "s3cret"))
				require.Equal(t, before+1, f.inner.compares.Load())
			},
		},
		{
			name: "entry expires after the TTL and a hit does not extend it",
			run: func(t *testing.T, f *fixture) {
				h := f.hash(t, "s3cret")
				require.NoError(t, f.compare(h, "s3cret"))

				f.clock.Advance(DefaultTTL - time.Second)
				require.NoError(t, f.compare(h, "s3cret"))
				require.EqualValues(t, 1, f.inner.compares.Load())

				f.clock.Advance(time.Second)
				require.NoError(t, f.compare(h, "s3cret"))
				require.EqualValues(t, 2, f.inner.compares.Load(), "expired entry must be re-verified")

				require.NoError(t, f.compare(h, "s3cret"))
				require.EqualValues(t, 2, f.inner.compares.Load(), "re-verified entry is cached again")
			},
		},
		{
			name: "configured TTL is honoured",
			run: func(t *testing.T, f *fixture) {
				f.hasher.TTL = 10 * time.Second
				h := f.hash(t, "s3cret")
				require.NoError(t, f.compare(h, "s3cret"))
				f.clock.Advance(10 * time.Second)
				require.NoError(t, f.compare(h, "s3cret"))
				require.EqualValues(t, 2, f.inner.compares.Load())
			},
		},
		{
			name: "negative TTL disables caching",
			run: func(t *testing.T, f *fixture) {
				f.hasher.TTL = -1
				h := f.hash(t, "s3cret")
				require.NoError(t, f.compare(h, "s3cret"))
				require.NoError(t, f.compare(h, "s3cret"))
				require.EqualValues(t, 2, f.inner.compares.Load())
			},
		},
		{
			name: "cache never grows past MaxEntries and evicts the least recently used",
			run: func(t *testing.T, f *fixture) {
				f.hasher.MaxEntries = 3
				hashes := make([][]byte, 5)
				for i := range hashes {
					hashes[i] = f.hash(t, fmt.Sprintf("secret-%d", i))
				}
				require.NoError(t, f.compare(hashes[0], "secret-0"))
				require.NoError(t, f.compare(hashes[1], "secret-1"))
				require.NoError(t, f.compare(hashes[2], "secret-2"))
				require.NoError(t, f.compare(hashes[0], "secret-0")) // 0 is now most recent
				require.NoError(t, f.compare(hashes[3], "secret-3")) // evicts 1
				require.NoError(t, f.compare(hashes[4], "secret-4")) // evicts 2
				require.Equal(t, 3, f.hasher.len())
				require.EqualValues(t, 5, f.inner.compares.Load())

				// 0, 3 and 4 are cached; 1 was evicted.
				require.NoError(t, f.compare(hashes[0], "secret-0"))
				require.NoError(t, f.compare(hashes[3], "secret-3"))
				require.NoError(t, f.compare(hashes[4], "secret-4"))
				require.EqualValues(t, 5, f.inner.compares.Load())
				require.NoError(t, f.compare(hashes[1], "secret-1"))
				require.EqualValues(t, 6, f.inner.compares.Load())
				require.Equal(t, 3, f.hasher.len())
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFixture(t, 0))
		})
	}
}

func TestNilHasherIsAnErrorNotAPanic(t *testing.T) {
	t.Parallel()
	var h CachingHasher
	_, err := h.Hash(context.Background(), []byte("x"))
	require.ErrorIs(t, err, errNoHasher)
	require.ErrorIs(t, h.Compare(context.Background(), []byte("x"), []byte("x")), errNoHasher)
}

func TestHashPassesThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	h := f.hash(t, "s3cret")
	require.NoError(t, bcrypt.CompareHashAndPassword(h, []byte("s3cret")))
	cost, err := bcrypt.Cost(h)
	require.NoError(t, err)
	require.Equal(t, bcrypt.MinCost, cost)
	require.Zero(t, f.hasher.len(), "hashing caches nothing")
}

func TestLengthPrefixSeparatesHashFromSecret(t *testing.T) {
	t.Parallel()
	h := &CachingHasher{Hasher: newCountingHasher()}
	h.init()
	require.NotEqual(t, h.mac([]byte("ab"), []byte("c")), h.mac([]byte("a"), []byte("bc")))
}

// TestConcurrentCallersShareOneComparison: while a comparison of a pair is in
// flight, another caller with the same pair waits for it instead of running a
// second bcrypt, and can give up on its own context without failing the first.
func TestConcurrentCallersShareOneComparison(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	hash := f.hash(t, "s3cret")
	f.inner.entered = make(chan struct{}, 2)
	f.inner.gate = make(chan struct{})

	first := make(chan error, 1)
	go func() { first <- f.compare(hash, "s3cret") }()
	<-f.inner.entered // the first comparison is now in flight and held

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- f.hasher.Compare(ctx, hash, []byte("s3cret")) }()
	cancel()
	require.ErrorIs(t, <-second, context.Canceled)
	require.EqualValues(t, 1, f.inner.compares.Load(), "the waiting caller must not start a second bcrypt")

	close(f.inner.gate)
	require.NoError(t, <-first)
	require.NoError(t, f.compare(hash, "s3cret"))
	require.EqualValues(t, 1, f.inner.compares.Load())
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	const clients = 6
	hashes := make([][]byte, clients)
	for i := range hashes {
		hashes[i] = f.hash(t, fmt.Sprintf("secret-%d", i))
	}

	var wg sync.WaitGroup
	errs := make(chan error, 16*clients*2)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range clients {
				c := (i + g) % clients
				if err := f.compare(hashes[c], fmt.Sprintf("secret-%d", c)); err != nil {
					errs <- fmt.Errorf("client %d, right secret: %w", c, err)
				}
				if err := f.compare(hashes[c], fmt.Sprintf("secret-%d!", c)); err == nil {
					errs <- fmt.Errorf("client %d: wrong secret accepted", c)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.LessOrEqual(t, f.hasher.len(), 4)
}
