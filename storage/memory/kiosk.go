package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// kioskStore holds the single-use keys of the kiosk and alert features. Its zero value is ready to use.
type kioskStore struct {
	mu       sync.Mutex
	once     map[string]time.Time // key → expiry
	expiries expiryQueue[string]
}

var (
	_ rfc8628.KioskStorage    = (*MemoryStore)(nil)
	_ pending.IndexStorage    = (*MemoryStore)(nil)
	_ pending.CallbackStorage = (*MemoryStore)(nil)
)

// ListPendingGrantsByLoginHint implements rfc8628.KioskStorage.
func (s *MemoryStore) ListPendingGrantsByLoginHint(_ context.Context, kind pending.Kind, loginHint string, now time.Time) ([]*pending.Grant, error) {
	return s.selectGrants(kind, func(g *pending.Grant) bool {
		return g.LoginHint == loginHint && g.State == pending.StatePending && !g.Expired(now)
	}, func(a, b *pending.Grant) bool { return a.CreatedAt.Before(b.CreatedAt) }, 0), nil
}

// GetPendingGrantByRequestID implements pending.IndexStorage.
func (s *MemoryStore) GetPendingGrantByRequestID(_ context.Context, kind pending.Kind, requestID string) (*pending.Grant, error) {
	out := s.selectGrants(kind, func(g *pending.Grant) bool { return g.Request != nil && g.Request.GetID() == requestID }, nil, 1)
	if len(out) == 0 {
		return nil, pending.ErrNotFound
	}
	return out[0], nil
}

// ListPendingGrantsBySubject implements pending.IndexStorage.
func (s *MemoryStore) ListPendingGrantsBySubject(_ context.Context, kind pending.Kind, subject string, now time.Time) ([]*pending.Grant, error) {
	if subject == "" {
		return []*pending.Grant{}, nil
	}
	return s.selectGrants(kind, func(g *pending.Grant) bool {
		return g.Subject == subject && g.State == pending.StatePending && !g.Expired(now)
	}, byCreation, 100), nil
}

// MarkCallbackQueued implements pending.CallbackStorage.
func (s *MemoryStore) MarkCallbackQueued(_ context.Context, kind pending.Kind, sig string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok {
		return pending.ErrNotFound
	}
	if g.Callback == nil || g.Callback.Notified {
		return pending.ErrStateChanged
	}
	c := cloneGrant(g)
	c.Callback.Notified = true
	s.grants[grantKey{kind, sig}] = c
	return nil
}

// ListUnnotifiedExpired implements pending.CallbackStorage.
func (s *MemoryStore) ListUnnotifiedExpired(_ context.Context, kind pending.Kind, now time.Time, limit int) ([]*pending.Grant, error) {
	return s.selectGrants(kind, func(g *pending.Grant) bool {
		return g.Callback != nil && g.Callback.OnExpiry && !g.Callback.Notified && g.Expired(now)
	}, func(a, b *pending.Grant) bool { return a.ExpiresAt.Before(b.ExpiresAt) }, limit), nil
}

func byCreation(a, b *pending.Grant) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Request.GetID() < b.Request.GetID()
}

// ListApprovedGrants implements rfc8628.KioskStorage.
func (s *MemoryStore) ListApprovedGrants(_ context.Context, kind pending.Kind, subject, clientID string, since time.Time, limit int) ([]*pending.Grant, error) {
	return s.selectGrants(kind, func(g *pending.Grant) bool {
		return g.Subject == subject && g.ClientID() == clientID && !g.DecidedAt.Before(since) &&
			(g.State == pending.StateApproved || g.State == pending.StateConsumed)
	}, func(a, b *pending.Grant) bool { return a.DecidedAt.After(b.DecidedAt) }, limit), nil
}

// ListExpiredGrants implements rfc8628.KioskStorage.
func (s *MemoryStore) ListExpiredGrants(_ context.Context, kind pending.Kind, after, now time.Time, limit int) ([]*pending.Grant, error) {
	return s.selectGrants(kind, func(g *pending.Grant) bool {
		return g.Expired(now) && g.ExpiresAt.After(after) && (g.State == pending.StatePending || g.State == pending.StateApproved)
	}, func(a, b *pending.Grant) bool { return a.ExpiresAt.Before(b.ExpiresAt) }, limit), nil
}

// selectGrants returns copies (without sessions) of the grants of kind that match, sorted by less
// when it is not nil, at most limit of them when limit > 0.
func (s *MemoryStore) selectGrants(kind pending.Kind, match func(*pending.Grant) bool, less func(a, b *pending.Grant) bool, limit int) []*pending.Grant {
	s.mu.RLock()
	var out []*pending.Grant
	for k, g := range s.grants {
		if k.kind == kind && match(g) {
			out = append(out, pending.WithoutSession(cloneGrant(g)))
		}
	}
	s.mu.RUnlock()
	if less != nil {
		sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []*pending.Grant{}
	}
	return out
}

// ExpirePendingGrant implements pending.IndexStorage.
func (s *MemoryStore) ExpirePendingGrant(_ context.Context, kind pending.Kind, sig string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[grantKey{kind, sig}]
	if !ok {
		return pending.ErrNotFound
	}
	if g.ExpiresAt.After(now) {
		c := cloneGrant(g)
		c.ExpiresAt = now
		s.grants[grantKey{kind, sig}] = c
		s.grantsExp.add(grantKey{kind, sig}, now)
	}
	return nil
}

// UseOnce implements pending.IndexStorage.
func (s *MemoryStore) UseOnce(_ context.Context, key string, expiresAt, now time.Time) error {
	s.kiosk.mu.Lock()
	defer s.kiosk.mu.Unlock()
	if s.kiosk.once == nil {
		s.kiosk.once = map[string]time.Time{}
	}
	if exp, ok := s.kiosk.once[key]; ok && now.Before(exp) {
		return pending.ErrStateChanged
	}
	// Forget a few expired keys each time, so the map does not grow without bound between purges.
	for _, e := range s.kiosk.expiries.due(now.Add(1), 8) {
		if exp, ok := s.kiosk.once[e.key]; ok && !now.Before(exp) {
			delete(s.kiosk.once, e.key)
		}
	}
	s.kiosk.once[key] = expiresAt
	s.kiosk.expiries.add(key, expiresAt)
	return nil
}
