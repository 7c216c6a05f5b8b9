package memory

// outboxStore holds the outbox grant's in-memory state. Its zero value must be ready to use.
type outboxStore struct{}
