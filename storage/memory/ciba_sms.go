package memory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

// CIBASMSStore keeps the reply codes of the CIBA SMS channel (package handler/ciba/smschannel) in
// memory. Its zero value is ready to use; it is safe for concurrent use. Nothing survives a restart.
type CIBASMSStore struct {
	mu       sync.Mutex
	bindings map[string]smschannel.Binding
	expiries expiryQueue[string]
}

var (
	_ smschannel.Store = (*CIBASMSStore)(nil)
	_ smschannel.Store = (*MemoryStore)(nil)
)

// CreateSMSBinding implements smschannel.Store on the MemoryStore's own CIBASMSStore, which Purge
// purges.
func (s *MemoryStore) CreateSMSBinding(ctx context.Context, b *smschannel.Binding, now time.Time) error {
	return s.sms.CreateSMSBinding(ctx, b, now)
}

// GetSMSBinding implements smschannel.Store.
func (s *MemoryStore) GetSMSBinding(ctx context.Context, signature string) (*smschannel.Binding, error) {
	return s.sms.GetSMSBinding(ctx, signature)
}

// UseSMSBinding implements smschannel.Store.
func (s *MemoryStore) UseSMSBinding(ctx context.Context, signature string, now time.Time, outcome string) error {
	return s.sms.UseSMSBinding(ctx, signature, now, outcome)
}

// CreateSMSBinding implements smschannel.Store.
func (s *CIBASMSStore) CreateSMSBinding(_ context.Context, b *smschannel.Binding, now time.Time) error {
	if b == nil || b.Signature == "" {
		return errors.New("memory: an SMS binding needs a signature")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bindings == nil {
		s.bindings = map[string]smschannel.Binding{}
	}
	if old, ok := s.bindings[b.Signature]; ok && now.Before(old.ExpiresAt) {
		return smschannel.ErrCodeTaken
	}
	c := *b
	c.Scopes = slices.Clone(b.Scopes)
	s.bindings[b.Signature] = c
	s.expiries.add(b.Signature, b.ExpiresAt)
	return nil
}

// GetSMSBinding implements smschannel.Store.
func (s *CIBASMSStore) GetSMSBinding(_ context.Context, signature string) (*smschannel.Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bindings[signature]
	if !ok {
		return nil, smschannel.ErrNotFound
	}
	b.Scopes = slices.Clone(b.Scopes)
	return &b, nil
}

// UseSMSBinding implements smschannel.Store.
func (s *CIBASMSStore) UseSMSBinding(_ context.Context, signature string, now time.Time, outcome string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bindings[signature]
	if !ok {
		return smschannel.ErrNotFound
	}
	if !b.UsedAt.IsZero() || !now.Before(b.ExpiresAt) {
		return smschannel.ErrUsed
	}
	b.UsedAt, b.Outcome = now.UTC(), outcome
	s.bindings[signature] = b
	return nil
}

// Purge deletes the codes that expired before before and returns how many, in batches (see
// MemoryStore.Purge, which calls it with its retention period, as the SQL store keeps them).
func (s *CIBASMSStore) Purge(before time.Time) int {
	return purgeQueue(&s.mu, &s.bindings, &s.expiries, before, func(b smschannel.Binding) time.Time { return b.ExpiresAt }, nil)
}
