package memory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
)

// CIBALinkStore keeps the links of the CIBA e-mail/SMS link channel (package
// handler/ciba/linkchannel) in memory. Its zero value is ready to use; it is safe for concurrent use.
// Nothing survives a restart.
type CIBALinkStore struct {
	mu       sync.Mutex
	links    map[string]linkchannel.Link
	expiries expiryQueue[string]
}

var (
	_ linkchannel.Store = (*CIBALinkStore)(nil)
	_ linkchannel.Store = (*MemoryStore)(nil)
)

// CreateCIBALink implements linkchannel.Store on the MemoryStore's own CIBALinkStore, which Purge
// purges.
func (s *MemoryStore) CreateCIBALink(ctx context.Context, l *linkchannel.Link) error {
	return s.links.CreateCIBALink(ctx, l)
}

// GetCIBALink implements linkchannel.Store.
func (s *MemoryStore) GetCIBALink(ctx context.Context, signature string) (*linkchannel.Link, error) {
	return s.links.GetCIBALink(ctx, signature)
}

// UseCIBALink implements linkchannel.Store.
func (s *MemoryStore) UseCIBALink(ctx context.Context, signature string, now time.Time, outcome string) error {
	return s.links.UseCIBALink(ctx, signature, now, outcome)
}

// CreateCIBALink implements linkchannel.Store.
func (s *CIBALinkStore) CreateCIBALink(_ context.Context, l *linkchannel.Link) error {
	if l == nil || l.Signature == "" {
		return errors.New("memory: a CIBA link needs a signature")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.links == nil {
		s.links = map[string]linkchannel.Link{}
	}
	if _, ok := s.links[l.Signature]; ok {
		return errors.New("memory: a CIBA link with that signature exists")
	}
	c := *l
	c.Scopes = slices.Clone(l.Scopes)
	s.links[l.Signature] = c
	s.expiries.add(l.Signature, l.ExpiresAt)
	return nil
}

// GetCIBALink implements linkchannel.Store.
func (s *CIBALinkStore) GetCIBALink(_ context.Context, signature string) (*linkchannel.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[signature]
	if !ok {
		return nil, linkchannel.ErrNotFound
	}
	l.Scopes = slices.Clone(l.Scopes)
	return &l, nil
}

// UseCIBALink implements linkchannel.Store.
func (s *CIBALinkStore) UseCIBALink(_ context.Context, signature string, now time.Time, outcome string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[signature]
	if !ok {
		return linkchannel.ErrNotFound
	}
	if !l.UsedAt.IsZero() || !now.Before(l.ExpiresAt) {
		return linkchannel.ErrUsed
	}
	l.UsedAt, l.Outcome = now.UTC(), outcome
	s.links[signature] = l
	return nil
}

// Purge deletes the links that expired before before and returns how many, in batches (see
// MemoryStore.Purge, which calls it with its retention period, as the SQL store keeps links).
func (s *CIBALinkStore) Purge(before time.Time) int {
	return purgeQueue(&s.mu, &s.links, &s.expiries, before, func(l linkchannel.Link) time.Time { return l.ExpiresAt }, nil)
}
