package memory

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/outbox"
)

var (
	_ observe.GrantCounter   = (*MemoryStore)(nil)
	_ observe.BacklogCounter = (*MemoryStore)(nil)
)

// CountGrants implements observe.GrantCounter: the grants of each kind in state pending or approved
// that have not expired at now.
func (s *MemoryStore) CountGrants(_ context.Context, now time.Time) ([]observe.GrantCount, error) {
	type key struct {
		kind  pending.Kind
		state pending.State
	}
	counts := map[key]int{}
	s.mu.RLock()
	for _, g := range s.grants {
		if (g.State == pending.StatePending || g.State == pending.StateApproved) && !g.Expired(now) {
			counts[key{g.Kind, g.State}]++
		}
	}
	s.mu.RUnlock()
	out := make([]observe.GrantCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, observe.GrantCount{Grant: string(k.kind), State: string(k.state), Count: n})
	}
	return out, nil
}

// OutboxBacklog implements observe.BacklogCounter: the messages waiting for delivery and when the
// oldest was queued.
func (s *MemoryStore) OutboxBacklog(context.Context) (observe.Backlog, error) {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	var b observe.Backlog
	for _, r := range o.messages {
		if r.State != outbox.StatePending {
			continue
		}
		b.Messages++
		if b.Oldest.IsZero() || r.CreatedAt.Before(b.Oldest) {
			b.Oldest = r.CreatedAt
		}
	}
	return b, nil
}
