package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
)

// CIBAUserCodeStore keeps users' CIBA user-code hashes (ciba.UserCodeStorage) in memory. Its zero
// value is ready to use; it is safe for concurrent use. Nothing survives a restart.
type CIBAUserCodeStore struct {
	mu     sync.Mutex
	hashes map[string]string
}

var (
	_ ciba.UserCodeStorage = (*CIBAUserCodeStore)(nil)
	_ ciba.UserCodeStorage = (*MemoryStore)(nil)
)

// SetCIBAUserCode implements ciba.UserCodeStorage on the MemoryStore's own CIBAUserCodeStore.
func (s *MemoryStore) SetCIBAUserCode(ctx context.Context, subject, hash string, now time.Time) error {
	return s.cibaUserCodes.SetCIBAUserCode(ctx, subject, hash, now)
}

// GetCIBAUserCode implements ciba.UserCodeStorage.
func (s *MemoryStore) GetCIBAUserCode(ctx context.Context, subject string) (string, error) {
	return s.cibaUserCodes.GetCIBAUserCode(ctx, subject)
}

// DeleteCIBAUserCode implements ciba.UserCodeStorage.
func (s *MemoryStore) DeleteCIBAUserCode(ctx context.Context, subject string) error {
	return s.cibaUserCodes.DeleteCIBAUserCode(ctx, subject)
}

// SetCIBAUserCode implements ciba.UserCodeStorage.
func (s *CIBAUserCodeStore) SetCIBAUserCode(_ context.Context, subject, hash string, _ time.Time) error {
	if subject == "" || hash == "" {
		return errors.New("memory: a CIBA user code needs a subject and a hash")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hashes == nil {
		s.hashes = map[string]string{}
	}
	s.hashes[subject] = hash
	return nil
}

// GetCIBAUserCode implements ciba.UserCodeStorage.
func (s *CIBAUserCodeStore) GetCIBAUserCode(_ context.Context, subject string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hashes[subject]
	if !ok {
		return "", fosite.ErrNotFound
	}
	return h, nil
}

// DeleteCIBAUserCode implements ciba.UserCodeStorage.
func (s *CIBAUserCodeStore) DeleteCIBAUserCode(_ context.Context, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.hashes[subject]; !ok {
		return fosite.ErrNotFound
	}
	delete(s.hashes, subject)
	return nil
}
