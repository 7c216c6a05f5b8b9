package observe

import (
	"context"
	"time"
)

// GrantCount is how many live grants of one kind are in one state.
type GrantCount struct {
	// Grant is the grant kind ("device_code", "ciba", "otp").
	Grant string
	// State is "pending" (waiting for a person) or "approved" (waiting for the client to redeem).
	State string
	// Count is how many there are.
	Count int
}

// GrantCounter is a store that counts its live grants, for a gauge read at each scrape. storage/sql
// and storage/memory implement it.
type GrantCounter interface {
	// CountGrants returns the grants in state pending or approved that have not expired at now, per
	// kind and state; kinds and states with none may be left out.
	CountGrants(ctx context.Context, now time.Time) ([]GrantCount, error)
}

// Backlog is what waits in a durable outbox.
type Backlog struct {
	// Messages is how many messages wait for a delivery attempt (due or not yet due).
	Messages int
	// Oldest is when the oldest of them was queued; zero when there are none.
	Oldest time.Time
}

// BacklogCounter is a store that reports its outbox backlog, for gauges read at each scrape.
// storage/sql and storage/memory implement it.
type BacklogCounter interface {
	OutboxBacklog(ctx context.Context) (Backlog, error)
}
