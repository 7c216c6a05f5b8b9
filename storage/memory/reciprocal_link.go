package memory

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// ReciprocalLinkStore keeps party A's links with its Reciprocal OAuth partners (reciprocal.LinkStorage)
// in memory, keyed by (partner client ID, subject). Its zero value is ready to use; it is safe for
// concurrent use. Nothing survives a restart.
type ReciprocalLinkStore struct {
	mu    sync.Mutex
	links map[[2]string]reciprocal.StoredLink
}

var (
	_ reciprocal.LinkStorage = (*ReciprocalLinkStore)(nil)
	_ reciprocal.LinkStorage = (*MemoryStore)(nil)
)

// SetReciprocalLink implements reciprocal.LinkStorage on the MemoryStore's own ReciprocalLinkStore.
func (s *MemoryStore) SetReciprocalLink(ctx context.Context, l *reciprocal.StoredLink) error {
	return s.reciprocalLinks.SetReciprocalLink(ctx, l)
}

// GetReciprocalLink implements reciprocal.LinkStorage.
func (s *MemoryStore) GetReciprocalLink(ctx context.Context, clientID, subject string) (*reciprocal.StoredLink, error) {
	return s.reciprocalLinks.GetReciprocalLink(ctx, clientID, subject)
}

// DeleteReciprocalLink implements reciprocal.LinkStorage.
func (s *MemoryStore) DeleteReciprocalLink(ctx context.Context, clientID, subject string) error {
	return s.reciprocalLinks.DeleteReciprocalLink(ctx, clientID, subject)
}

// SetReciprocalLink implements reciprocal.LinkStorage.
func (s *ReciprocalLinkStore) SetReciprocalLink(_ context.Context, l *reciprocal.StoredLink) error {
	if l == nil || l.ClientID == "" || l.Subject == "" || len(l.Sealed) == 0 {
		return errors.New("memory: a reciprocal link needs a client ID, a subject and a sealed token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.links == nil {
		s.links = map[[2]string]reciprocal.StoredLink{}
	}
	s.links[[2]string{l.ClientID, l.Subject}] = clonedLink(*l)
	return nil
}

// GetReciprocalLink implements reciprocal.LinkStorage.
func (s *ReciprocalLinkStore) GetReciprocalLink(_ context.Context, clientID, subject string) (*reciprocal.StoredLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[[2]string{clientID, subject}]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	l = clonedLink(l)
	return &l, nil
}

// DeleteReciprocalLink implements reciprocal.LinkStorage.
func (s *ReciprocalLinkStore) DeleteReciprocalLink(_ context.Context, clientID, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]string{clientID, subject}
	if _, ok := s.links[key]; !ok {
		return fosite.ErrNotFound
	}
	delete(s.links, key)
	return nil
}

func clonedLink(l reciprocal.StoredLink) reciprocal.StoredLink {
	l.Sealed = slices.Clone(l.Sealed)
	l.Granted = slices.Clone(l.Granted)
	l.UpdatedAt = l.UpdatedAt.UTC()
	return l
}
