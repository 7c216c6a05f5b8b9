package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fosite-contrib/grants/internal/clock"
)

// Queue is the producer side of the outbox: it seals messages and writes them to the store.
//
// Call Enqueue with the context of the transaction that makes the state change the message
// reports (the CIBA approval, the device-grant approval), so that both commit or neither does.
type Queue struct {
	// Storage is the store; it must be the store whose transaction ctx carries.
	Storage Storage
	// Sealer encrypts Header and Body.
	Sealer *Sealer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Enqueue validates m, fills CreatedAt (now), NotBefore (CreatedAt) and MaxAttempts
// (DefaultMaxAttempts) when zero, seals it and stores it as pending. It returns ErrDuplicate when a
// message with m.ID exists. Delivery state fields of m are ignored.
//
// Enqueue does not wake a worker: call Worker.Kick after the transaction commits to deliver at once
// rather than at the next poll.
func (q *Queue) Enqueue(ctx context.Context, m Message) error {
	if q == nil || q.Storage == nil || q.Sealer == nil {
		return errors.New("outbox: Queue needs a Storage and a Sealer")
	}
	if err := validateMessage(m); err != nil {
		return err
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = clock.Now(q.Now)
	}
	if m.NotBefore.IsZero() {
		m.NotBefore = m.CreatedAt
	}
	if m.MaxAttempts == 0 {
		m.MaxAttempts = DefaultMaxAttempts
	}
	m.State, m.Attempts, m.NextAttemptAt, m.LastError, m.Lease, m.LeaseUntil = StatePending, 0, m.NotBefore, "", "", time.Time{}
	r, err := q.Sealer.Seal(m)
	if err != nil {
		return err
	}
	return q.Storage.EnqueueOutbox(ctx, r)
}

// validateMessage checks the parts of a message every store relies on.
func validateMessage(m Message) error {
	switch {
	case m.ID == "" || len(m.ID) > 255:
		return fmt.Errorf("outbox: message ID must be 1 to 255 bytes, got %d", len(m.ID))
	case m.Kind == "" || len(m.Kind) > 64:
		return fmt.Errorf("outbox: message Kind must be 1 to 64 bytes, got %d", len(m.Kind))
	case m.Target == "" || len(m.Target) > 2048:
		return fmt.Errorf("outbox: message Target must be 1 to 2048 bytes, got %d", len(m.Target))
	case m.MaxAttempts < 0 || m.MaxAttempts > 1000:
		return fmt.Errorf("outbox: message MaxAttempts must be 0 to 1000, got %d", m.MaxAttempts)
	}
	for k, v := range m.Header {
		if k == "" || strings.ContainsAny(k, "\r\n:") || strings.ContainsAny(v, "\r\n") {
			return errors.New("outbox: message Header has an empty name or a line break")
		}
	}
	if u, err := url.Parse(m.Target); err != nil || u.Scheme == "" {
		return errors.New("outbox: message Target must be a URL with a scheme (https://... or notify:email)")
	}
	return nil
}
