package memory

import (
	"context"
	"sync"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// reciprocalStore holds the reciprocal grant's in-memory state: party B's tokens from its partners,
// keyed by (partner client ID, subject). Its zero value is ready to use.
type reciprocalStore struct {
	mu     sync.RWMutex
	tokens map[[2]string]reciprocal.StoredToken
}

var _ reciprocal.TokenStorage = (*MemoryStore)(nil)

// SetReciprocalToken implements reciprocal.TokenStorage.
func (s *MemoryStore) SetReciprocalToken(_ context.Context, t *reciprocal.StoredToken) error {
	r := &s.reciprocal
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tokens == nil {
		r.tokens = map[[2]string]reciprocal.StoredToken{}
	}
	c := *t
	c.Sealed = append([]byte(nil), t.Sealed...)
	r.tokens[[2]string{t.ClientID, t.Subject}] = c
	return nil
}

// GetReciprocalToken implements reciprocal.TokenStorage.
func (s *MemoryStore) GetReciprocalToken(_ context.Context, clientID, subject string) (*reciprocal.StoredToken, error) {
	r := &s.reciprocal
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tokens[[2]string{clientID, subject}]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	t.Sealed = append([]byte(nil), t.Sealed...)
	return &t, nil
}

// DeleteReciprocalToken implements reciprocal.TokenStorage.
func (s *MemoryStore) DeleteReciprocalToken(_ context.Context, clientID, subject string) error {
	r := &s.reciprocal
	r.mu.Lock()
	defer r.mu.Unlock()
	key := [2]string{clientID, subject}
	if _, ok := r.tokens[key]; !ok {
		return fosite.ErrNotFound
	}
	delete(r.tokens, key)
	return nil
}
