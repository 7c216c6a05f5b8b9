package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrConflict is returned by Storage.AppendAuditRecords when the first
// sequence number is not exactly one more than the last stored one, i.e.
// another writer appended first. Log retries on it.
var ErrConflict = errors.New("audit: sequence number already taken")

// Record is one stored entry of the audit log and its position in the chain:
// a Security Event Token in compact JWS form, or, for a record sealed by a
// later one of its batch, the SET's JSON claims set alone.
type Record struct {
	Seq   int64
	Token string
}

// Storage keeps the audit chain. It is implemented by MemoryStorage and by
// the SQL store; audittest.RunStorageTests is the contract every
// implementation must pass.
//
// All methods must be safe for concurrent use. Tokens are stored and returned
// byte for byte; they may be several kilobytes long.
type Storage interface {
	// LastAuditRecord returns the highest stored sequence number and its
	// token, or 0 and "" when the log is empty.
	LastAuditRecord(ctx context.Context) (seq int64, token string, err error)
	// AppendAuditRecords stores recs, whose Seq values run on one by one,
	// if and only if the first is exactly the last stored sequence number
	// plus one (1 for an empty log). In any other case it stores nothing and
	// returns ErrConflict. Empty or non-consecutive recs, or a Seq < 1,
	// return another error. The check and the writes must be one atomic
	// step, also across processes sharing the store: all records or none.
	AppendAuditRecords(ctx context.Context, recs []Record) error
	// ListAuditRecords returns up to limit records with Seq > afterSeq in
	// ascending Seq order. limit must be positive.
	ListAuditRecords(ctx context.Context, afterSeq int64, limit int) ([]Record, error)
}

// MemoryStorage is an in-memory Storage for tests and single-process demos.
// The zero value is an empty log ready to use.
type MemoryStorage struct {
	mu      sync.Mutex
	records []Record // ascending Seq
}

var _ Storage = (*MemoryStorage)(nil)

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// LastAuditRecord implements Storage.
func (m *MemoryStorage) LastAuditRecord(ctx context.Context) (int64, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.records) == 0 {
		return 0, "", nil
	}
	last := m.records[len(m.records)-1]
	return last.Seq, last.Token, nil
}

// AppendAuditRecords implements Storage.
func (m *MemoryStorage) AppendAuditRecords(ctx context.Context, recs []Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckBatch(recs); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var last int64
	if n := len(m.records); n > 0 {
		last = m.records[n-1].Seq
	}
	if recs[0].Seq != last+1 {
		return ErrConflict
	}
	m.records = append(m.records, recs...)
	return nil
}

// CheckBatch returns an error unless recs is a non-empty run of records whose
// Seq values start at 1 or more and go up by one, as AppendAuditRecords
// requires. Storage implementations call it first.
func CheckBatch(recs []Record) error {
	if len(recs) == 0 {
		return errors.New("audit: no records to append")
	}
	if recs[0].Seq < 1 {
		return fmt.Errorf("audit: sequence number %d is not positive", recs[0].Seq)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq != recs[i-1].Seq+1 {
			return fmt.Errorf("audit: records to append are not consecutive: seq %d follows seq %d", recs[i].Seq, recs[i-1].Seq)
		}
	}
	return nil
}

// ListAuditRecords implements Storage.
func (m *MemoryStorage) ListAuditRecords(ctx context.Context, afterSeq int64, limit int) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, fmt.Errorf("audit: list limit %d is not positive", limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.records), func(i int) bool { return m.records[i].Seq > afterSeq })
	end := len(m.records)
	if limit < end-i {
		end = i + limit
	}
	return append([]Record(nil), m.records[i:end]...), nil
}
