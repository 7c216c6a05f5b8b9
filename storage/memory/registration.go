package memory

import (
	"context"
	"errors"

	"github.com/ory/fosite"
)

// ErrClientExists is returned by CreateClient when a client with that ID is already stored.
var ErrClientExists = errors.New("memory: a client with this ID already exists")

// CreateClient stores a new client (for dynamic client registration, RFC 7591), or returns
// ErrClientExists, storing nothing, when SetClient or fosite's Clients map already has that ID.
func (s *MemoryStore) CreateClient(ctx context.Context, c fosite.Client) error {
	if c == nil || c.GetID() == "" {
		return errors.New("memory: a client needs an ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.GetID()]; ok {
		return ErrClientExists
	}
	if _, err := s.MemoryStore.GetClient(ctx, c.GetID()); err == nil {
		return ErrClientExists
	}
	s.clients[c.GetID()] = c
	return nil
}
