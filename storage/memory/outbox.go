package memory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fosite-contrib/grants/outbox"
)

// outboxStore holds the durable outbox (package outbox) in memory. Its zero value is ready to use.
//
// The memory store has no transactions: EnqueueOutbox takes effect at once.
type outboxStore struct {
	mu       sync.Mutex
	messages map[string]*outbox.Record
	attempts map[string][]outbox.Attempt
}

var _ outbox.Storage = (*MemoryStore)(nil)

func cloneRecord(r *outbox.Record) outbox.Record {
	c := *r
	c.Sealed = slices.Clone(r.Sealed)
	return c
}

func newLease() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// EnqueueOutbox implements outbox.Storage.
func (s *MemoryStore) EnqueueOutbox(_ context.Context, r outbox.Record) error {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.messages == nil {
		o.messages = map[string]*outbox.Record{}
		o.attempts = map[string][]outbox.Attempt{}
	}
	if _, ok := o.messages[r.ID]; ok {
		return outbox.ErrDuplicate
	}
	c := cloneRecord(&r)
	c.State, c.Attempts, c.Lease, c.LeaseUntil, c.FinishedAt, c.LastError = outbox.StatePending, 0, "", time.Time{}, time.Time{}, ""
	o.messages[r.ID] = &c
	return nil
}

// ClaimOutbox implements outbox.Storage.
func (s *MemoryStore) ClaimOutbox(_ context.Context, now time.Time, limit int, lease time.Duration) ([]outbox.Record, error) {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*outbox.Record
	for _, r := range o.messages {
		if r.State != outbox.StatePending || (r.Lease != "" && r.LeaseUntil.After(now)) {
			continue
		}
		if r.Attempts >= r.MaxAttempts {
			// The last allowed attempt's worker died holding the lease.
			r.State, r.FinishedAt, r.Lease, r.LeaseUntil = outbox.StateFailed, now, "", time.Time{}
			if r.LastError == "" {
				r.LastError = "lease of the last attempt expired"
			}
			continue
		}
		if r.NextAttemptAt.After(now) {
			continue
		}
		due = append(due, r)
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].NextAttemptAt.Equal(due[j].NextAttemptAt) {
			return due[i].NextAttemptAt.Before(due[j].NextAttemptAt)
		}
		return due[i].ID < due[j].ID
	})
	if limit >= 0 && len(due) > limit {
		due = due[:limit]
	}
	out := make([]outbox.Record, 0, len(due))
	for _, r := range due {
		r.Attempts++
		r.Lease, r.LeaseUntil = newLease(), now.Add(lease)
		out = append(out, cloneRecord(r))
	}
	return out, nil
}

// CompleteOutbox implements outbox.Storage.
func (s *MemoryStore) CompleteOutbox(_ context.Context, id string, a outbox.Attempt) error {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.messages[id]
	if !ok {
		return outbox.ErrNotFound
	}
	if r.State != outbox.StatePending || r.Lease == "" || r.Lease != a.Lease {
		return outbox.ErrLeaseLost
	}
	switch a.Outcome {
	case outbox.OutcomeDelivered:
		r.State, r.FinishedAt = outbox.StateDelivered, a.At
	case outbox.OutcomeFailed:
		r.State, r.FinishedAt = outbox.StateFailed, a.At
	case outbox.OutcomeRetry:
		r.NextAttemptAt = a.NextAttemptAt
	default:
		return outbox.Permanent(errUnknownOutcome)
	}
	r.LastError, r.Lease, r.LeaseUntil = a.Error, "", time.Time{}
	a.MessageID = id
	o.attempts[id] = append(o.attempts[id], a)
	return nil
}

// GetOutbox implements outbox.Storage.
func (s *MemoryStore) GetOutbox(_ context.Context, id string) (outbox.Record, error) {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.messages[id]
	if !ok {
		return outbox.Record{}, outbox.ErrNotFound
	}
	return cloneRecord(r), nil
}

// ListOutboxAttempts implements outbox.Storage.
func (s *MemoryStore) ListOutboxAttempts(_ context.Context, id string) ([]outbox.Attempt, error) {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.attempts[id]), nil
}

// PurgeOutbox implements outbox.Storage.
func (s *MemoryStore) PurgeOutbox(_ context.Context, before time.Time) (int, error) {
	o := &s.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for id, r := range o.messages {
		if r.State != outbox.StatePending && r.FinishedAt.Before(before) {
			delete(o.messages, id)
			delete(o.attempts, id)
			n++
		}
	}
	return n, nil
}

var errUnknownOutcome = errors.New("memory: unknown outbox attempt outcome")
