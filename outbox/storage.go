package outbox

import (
	"context"
	"time"
)

// Storage is the durable outbox a store keeps. storage/memory and storage/sql implement it, and
// storage/storagetest.RunOutboxStorageTests is its conformance suite.
//
// All methods are safe for concurrent use, also by several processes sharing one database.
type Storage interface {
	// EnqueueOutbox stores r as a pending message whose first attempt is due at r.NextAttemptAt.
	// When ctx carries a transaction of the store (storage.Transactional.BeginTX), the insert joins
	// it, so the message exists if and only if the transaction commits. It returns ErrDuplicate when
	// a message with r.ID exists (and, inside a PostgreSQL transaction, leaves the transaction usable).
	EnqueueOutbox(ctx context.Context, r Record) error

	// ClaimOutbox leases up to limit pending messages that are due at now (NextAttemptAt <= now) and
	// not held by an unexpired lease, oldest due first. Each claimed message gets a new random Lease,
	// LeaseUntil = now+lease, and Attempts incremented; until LeaseUntil no other claim returns it.
	// Pending messages whose last allowed attempt's lease expired (the worker died) become
	// StateFailed. Concurrent claims never return the same message twice.
	ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Record, error)

	// CompleteOutbox records attempt a on message id and moves it on: to StateDelivered
	// (OutcomeDelivered), back to pending due at a.NextAttemptAt (OutcomeRetry), or to StateFailed
	// (OutcomeFailed); the lease is released and LastError set to a.Error. It succeeds only while
	// a.Lease still holds the message (it is pending with that lease, even if the lease's time ran
	// out and nobody else claimed it); otherwise it returns ErrLeaseLost (ErrNotFound for an unknown
	// id) and changes nothing.
	CompleteOutbox(ctx context.Context, id string, a Attempt) error

	// GetOutbox returns the record of message id, or ErrNotFound.
	GetOutbox(ctx context.Context, id string) (Record, error)

	// ListOutboxAttempts returns the attempts recorded for message id, oldest first (none for an
	// unknown id).
	ListOutboxAttempts(ctx context.Context, id string) ([]Attempt, error)

	// PurgeOutbox deletes delivered and failed messages (and their attempts) that finished before
	// before, and returns how many messages it deleted. Pending messages are never purged.
	PurgeOutbox(ctx context.Context, before time.Time) (int, error)
}
