package memory

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
)

// cibaStore holds the CIBA grant's records (ciba.RecordStorage). Its zero value is ready to use.
type cibaStore struct {
	mu       sync.RWMutex
	records  map[string]*ciba.Record // by Ref
	expiries expiryQueue[string]
}

var _ ciba.RecordStorage = (*MemoryStore)(nil)

func cloneCIBARecord(r *ciba.Record) *ciba.Record {
	c := *r
	c.SealedToken = slices.Clone(r.SealedToken)
	c.SealedAuthReqID = slices.Clone(r.SealedAuthReqID)
	return &c
}

// CreateCIBARecord implements ciba.RecordStorage.
func (s *MemoryStore) CreateCIBARecord(_ context.Context, r *ciba.Record) error {
	s.ciba.mu.Lock()
	defer s.ciba.mu.Unlock()
	if s.ciba.records == nil {
		s.ciba.records = map[string]*ciba.Record{}
	}
	if _, ok := s.ciba.records[r.Ref]; ok {
		return pending.ErrCollision
	}
	s.ciba.records[r.Ref] = cloneCIBARecord(r)
	s.ciba.expiries.add(r.Ref, r.ExpiresAt)
	return nil
}

// GetCIBARecord implements ciba.RecordStorage.
func (s *MemoryStore) GetCIBARecord(_ context.Context, ref string) (*ciba.Record, error) {
	s.ciba.mu.RLock()
	defer s.ciba.mu.RUnlock()
	r, ok := s.ciba.records[ref]
	if !ok {
		return nil, pending.ErrNotFound
	}
	return cloneCIBARecord(r), nil
}

// ListCIBARecordsBySubject implements ciba.RecordStorage.
func (s *MemoryStore) ListCIBARecordsBySubject(_ context.Context, subject string, now time.Time) ([]*ciba.Record, error) {
	s.ciba.mu.RLock()
	defer s.ciba.mu.RUnlock()
	out := []*ciba.Record{}
	for _, r := range s.ciba.records {
		if r.Subject == subject && subject != "" && now.Before(r.ExpiresAt) {
			out = append(out, cloneCIBARecord(r))
		}
	}
	sortRecords(out)
	if len(out) > 100 {
		out = out[:100]
	}
	return out, nil
}

// ListExpiredCIBARecords implements ciba.RecordStorage.
func (s *MemoryStore) ListExpiredCIBARecords(_ context.Context, now time.Time, limit int) ([]*ciba.Record, error) {
	s.ciba.mu.RLock()
	defer s.ciba.mu.RUnlock()
	out := []*ciba.Record{}
	for _, r := range s.ciba.records {
		if r.Mode == ciba.ModePush && !r.Notified && !now.Before(r.ExpiresAt) {
			out = append(out, cloneCIBARecord(r))
		}
	}
	sortRecords(out)
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// MarkCIBARecordNotified implements ciba.RecordStorage.
func (s *MemoryStore) MarkCIBARecordNotified(_ context.Context, ref string) error {
	s.ciba.mu.Lock()
	defer s.ciba.mu.Unlock()
	r, ok := s.ciba.records[ref]
	if !ok {
		return pending.ErrNotFound
	}
	if r.Notified {
		return pending.ErrStateChanged
	}
	r.Notified = true
	return nil
}

func sortRecords(rs []*ciba.Record) {
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].CreatedAt.Equal(rs[j].CreatedAt) {
			return rs[i].CreatedAt.Before(rs[j].CreatedAt)
		}
		return rs[i].Ref < rs[j].Ref
	})
}
