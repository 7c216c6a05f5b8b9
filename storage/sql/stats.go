package sqlstore

import "sync/atomic"

// Stats counts what a Store asked of its database since it was opened, for benchmarks and capacity
// planning: divide the difference of two readings by the requests served between them.
type Stats struct {
	// Queries is the number of SQL statements the store ran for its callers (SELECT, INSERT, UPDATE,
	// DELETE), not counting transaction control.
	Queries int64
	// TxControl is the number of transaction-control statements: BEGIN, COMMIT, ROLLBACK and, with
	// SQLite group commit, the savepoint of each transaction in a batch.
	TxControl int64
	// Commits is the number of transactions the database committed for the store (on SQLite one per
	// batch of group commit; statements outside a transaction commit on their own and are not counted
	// on PostgreSQL).
	Commits int64
	// RoundTrips is the number of times the store waited for PostgreSQL's answer (a pipelined batch of
	// statements is one; so is preparing a statement). It is 0 on SQLite, which runs in the process.
	RoundTrips int64
}

type stats struct {
	queries, control, commits, roundTrips atomic.Int64
}

// Stats returns the store's counters so far.
func (s *Store) Stats() Stats {
	return Stats{
		Queries:    s.stats.queries.Load(),
		TxControl:  s.stats.control.Load(),
		Commits:    s.stats.commits.Load(),
		RoundTrips: s.stats.roundTrips.Load(),
	}
}
