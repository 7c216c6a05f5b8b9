package memory

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/ory/fosite"
)

// jtiStore remembers the JWT IDs of client assertions (private_key_jwt, client_secret_jwt; RFC 7523
// §3) and of JWT bearer grants until they expire, so that none is accepted twice.
//
// fosite's MemoryStore does the same, but sweeps its whole map for expired IDs on every new one, under
// its write lock: with thousands of private_key_jwt clients polling, every poll walked hundreds of
// thousands of entries. Here expiries sit in a min-heap, so a new ID costs O(log n) plus the entries
// that actually expired.
type jtiStore struct {
	mu      sync.Mutex
	expires map[string]time.Time
	byTime  jtiHeap
}

type jtiEntry struct {
	jti string
	exp time.Time
}

type jtiHeap []jtiEntry

func (h jtiHeap) Len() int           { return len(h) }
func (h jtiHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h jtiHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *jtiHeap) Push(x any)        { *h = append(*h, x.(jtiEntry)) }
func (h *jtiHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// ClientAssertionJWTValid implements fosite.ClientManager: fosite.ErrJTIKnown while jti is remembered
// and not expired.
func (s *MemoryStore) ClientAssertionJWTValid(_ context.Context, jti string) error {
	s.jtis.mu.Lock()
	defer s.jtis.mu.Unlock()
	if exp, ok := s.jtis.expires[jti]; ok && exp.After(s.now()) {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager: it remembers jti until exp, or returns
// fosite.ErrJTIKnown when it is remembered already. Expired IDs are forgotten first.
func (s *MemoryStore) SetClientAssertionJWT(_ context.Context, jti string, exp time.Time) error {
	j := &s.jtis
	j.mu.Lock()
	defer j.mu.Unlock()
	j.forgetExpired(s.now(), -1)
	if _, ok := j.expires[jti]; ok {
		return fosite.ErrJTIKnown
	}
	if j.expires == nil {
		j.expires = make(map[string]time.Time)
	}
	j.expires[jti] = exp
	heap.Push(&j.byTime, jtiEntry{jti: jti, exp: exp})
	return nil
}

// IsJWTUsed implements rfc7523.RFC7523KeyStorage (the JWT bearer grant) on the same memory.
func (s *MemoryStore) IsJWTUsed(ctx context.Context, jti string) (bool, error) {
	return s.ClientAssertionJWTValid(ctx, jti) != nil, nil
}

// MarkJWTUsedForTime implements rfc7523.RFC7523KeyStorage on the same memory.
func (s *MemoryStore) MarkJWTUsedForTime(ctx context.Context, jti string, exp time.Time) error {
	return s.SetClientAssertionJWT(ctx, jti, exp)
}

// forgetExpired takes up to limit (all when negative) entries that expired before now off the heap,
// forgets their IDs, and returns how many entries it took and how many IDs it forgot; j.mu must be held.
func (j *jtiStore) forgetExpired(now time.Time, limit int) (taken, forgot int) {
	for len(j.byTime) > 0 && j.byTime[0].exp.Before(now) && taken != limit {
		e := heap.Pop(&j.byTime).(jtiEntry)
		taken++
		if cur, ok := j.expires[e.jti]; ok && cur.Equal(e.exp) {
			delete(j.expires, e.jti)
			forgot++
		}
	}
	if taken > 0 && cap(j.byTime) > 1024 && cap(j.byTime) > 4*len(j.byTime) {
		j.byTime = append(jtiHeap(nil), j.byTime...) // give back what a burst took; a heap copied in order is a heap
	}
	return taken, forgot
}
