package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recordBatches records len(sizes) batches through l: for each size it holds
// the writer's turn while that many events queue up (req-1, req-2, … in order),
// then lets them go, so that one writer appends them under one signature.
func recordBatches(t *testing.T, l *Log, sizes ...int) {
	t.Helper()
	n := 0
	for _, size := range sizes {
		_, err := l.group.Enter(context.Background()) // hold the turn
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, size)
		for i := range size {
			n++
			e := Event{Type: EventApproved, Grant: GrantDeviceCode, Subject: fmt.Sprintf("customer-%d", n), RequestID: fmt.Sprintf("req-%d", n)}
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = l.Record(context.Background(), e) }()
			waitQueued(l, i+1)
		}
		require.NoError(t, l.group.Leave(false))
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
}

// waitQueued yields until n events wait for l's turn.
func waitQueued(l *Log, n int) {
	for l.group.Waiting() < n {
		runtime.Gosched()
	}
}

// batchedLog is a log of six events appended in batches of 1, 3 and 2:
// seq 1 signed; 2, 3 unsigned and 4 signed; 5 unsigned and 6 signed.
func batchedLog(t *testing.T, k testKey) *MemoryStorage {
	t.Helper()
	s := NewMemoryStorage()
	l, err := NewLog(s, k.signing, Options{Issuer: "https://as.example.com"})
	require.NoError(t, err)
	recordBatches(t, l, 1, 3, 2)
	return s
}

// signedSeqs returns the sequence numbers of the signed records.
func signedSeqs(recs []Record) []int64 {
	var out []int64
	for _, r := range recs {
		if !strings.HasPrefix(r.Token, "{") {
			out = append(out, r.Seq)
		}
	}
	return out
}

// requestIDs verifies the log in s and returns its events' request IDs in order.
func requestIDs(t *testing.T, keys KeyFunc, s Storage) []string {
	t.Helper()
	var ids []string
	_, err := (&Verifier{Keys: keys, Visit: func(_ int64, e Event) error { ids = append(ids, e.RequestID); return nil }}).Verify(context.Background(), s)
	require.NoError(t, err)
	return ids
}

func TestBatchSignsOnlyItsNewestRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newTestKey(t, "ours")
	s := batchedLog(t, k)

	recs, err := s.ListAuditRecords(ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, 6)
	require.Equal(t, []int64{1, 4, 6}, signedSeqs(recs))

	// An unsigned record is the SET's claims set, chained like any other.
	var c setClaims
	require.NoError(t, json.Unmarshal([]byte(recs[1].Token), &c))
	require.EqualValues(t, 2, c.Seq)
	require.Equal(t, TokenHash(recs[0].Token), c.Prev)
	require.Equal(t, "https://as.example.com", c.Issuer)

	// It cannot be verified on its own; the signed record of its batch can.
	_, err = Decode(recs[1].Token, k.keys)
	require.ErrorIs(t, err, ErrInvalidToken)
	e, err := Decode(recs[3].Token, k.keys)
	require.NoError(t, err)
	require.Equal(t, "req-4", e.RequestID)

	// The whole log verifies, and Visit reads every event in order.
	var seen []string
	v := &Verifier{Keys: k.keys, Visit: func(seq int64, e Event) error {
		require.Equal(t, fmt.Sprintf("req-%d", seq), e.RequestID)
		seen = append(seen, e.Subject)
		return nil
	}}
	rep, err := v.Verify(ctx, s)
	require.NoError(t, err)
	require.EqualValues(t, 6, rep.Records)
	require.Equal(t, Head{Seq: 6, Hash: TokenHash(recs[5].Token)}, rep.Head)
	require.Equal(t, []string{"customer-1", "customer-2", "customer-3", "customer-4", "customer-5", "customer-6"}, seen)
}

func TestVerifyCatchesTamperingWithUnsignedRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ours := newTestKey(t, "ours")
	marshal := func(t *testing.T, c setClaims) string {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		return string(b)
	}
	editSubject := func(t *testing.T, token, subject string) string {
		var c setClaims
		require.NoError(t, json.Unmarshal([]byte(token), &c))
		c.SubjectID.ID = subject
		return marshal(t, c)
	}

	for _, tc := range []struct {
		name       string
		tamper     func(t *testing.T, recs []Record) []Record
		wantSeq    int64
		wantReason Reason
		wantIntact int64
	}{
		{
			name: "unsigned record edited",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[1].Token = editSubject(t, recs[1].Token, "someone-else")
				return recs
			},
			wantSeq: 3, wantReason: ReasonBrokenChain, wantIntact: 1,
		},
		{
			name: "unsigned record just before the signature edited",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[2].Token = editSubject(t, recs[2].Token, "someone-else")
				return recs
			},
			wantSeq: 4, wantReason: ReasonBrokenChain, wantIntact: 1,
		},
		{
			name: "unsigned records edited and re-chained up to the signed one",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[1].Token = editSubject(t, recs[1].Token, "someone-else")
				var c setClaims
				require.NoError(t, json.Unmarshal([]byte(recs[2].Token), &c))
				c.Prev = TokenHash(recs[1].Token)
				recs[2].Token = marshal(t, c)
				return recs
			},
			wantSeq: 4, wantReason: ReasonBrokenChain, wantIntact: 1,
		},
		{
			name:    "the signed record sealing the last batch removed",
			tamper:  func(t *testing.T, recs []Record) []Record { return recs[:5] },
			wantSeq: 5, wantReason: ReasonUnsealed, wantIntact: 4,
		},
		{
			name: "unsigned record forged onto the end",
			tamper: func(t *testing.T, recs []Record) []Record {
				c := setClaims{Issuer: "https://as.example.com", IssuedAt: 1, ID: "forged", Seq: 7, Prev: TokenHash(recs[5].Token),
					Events: map[string]json.RawMessage{EventApproved: json.RawMessage(`{"actor":"intruder"}`)}}
				return append(recs, Record{Seq: 7, Token: marshal(t, c)})
			},
			wantSeq: 7, wantReason: ReasonUnsealed, wantIntact: 6,
		},
		{
			name: "signed record stripped to its claims and edited",
			tamper: func(t *testing.T, recs []Record) []Record {
				c := claimsOf(t, recs[3].Token)
				c.SubjectID.ID = "someone-else"
				recs[3].Token = marshal(t, c)
				return recs
			},
			wantSeq: 5, wantReason: ReasonBrokenChain, wantIntact: 1,
		},
		{
			name: "unsigned record with data after its claims",
			tamper: func(t *testing.T, recs []Record) []Record {
				recs[4].Token += `{"seq":99}`
				return recs
			},
			wantSeq: 5, wantReason: ReasonMalformed, wantIntact: 4,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := batchedLog(t, ours)
			recs, err := s.ListAuditRecords(ctx, 0, 100)
			require.NoError(t, err)
			tampered := &MemoryStorage{records: tc.tamper(t, recs)}
			rep, err := Verify(ctx, tampered, ours.keys)
			var te *TamperError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tc.wantReason, te.Reason, te.Error())
			require.Equal(t, tc.wantSeq, te.Seq, te.Error())
			require.Equal(t, tc.wantIntact, rep.Records)
		})
	}
}

func TestMaxBatchBoundsWhatOneSignatureSeals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newTestKey(t, "ours")
	s := NewMemoryStorage()
	l, err := NewLog(s, k.signing, Options{Issuer: "https://as.example.com", MaxBatch: 2})
	require.NoError(t, err)
	recordBatches(t, l, 5)

	recs, err := s.ListAuditRecords(ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, 5)
	require.Equal(t, []int64{2, 4, 5}, signedSeqs(recs))
	rep, err := Verify(ctx, s, k.keys)
	require.NoError(t, err)
	require.EqualValues(t, 5, rep.Records)

	_, err = NewLog(s, k.signing, Options{Issuer: "https://as.example.com", MaxBatch: -1})
	require.Error(t, err)
}

func TestRecordWithdrawsAQueuedEventWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "ours")
	s := NewMemoryStorage()
	l, err := NewLog(s, k.signing, Options{Issuer: "https://as.example.com"})
	require.NoError(t, err)

	_, err = l.group.Enter(context.Background()) // a batch is being written: the event queues
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Record(ctx, Event{Type: EventApproved, RequestID: "req-gone"}) }()
	waitQueued(l, 1)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, l.group.Leave(false))

	require.NoError(t, l.Record(context.Background(), Event{Type: EventApproved, RequestID: "req-kept"}))
	require.Equal(t, []string{"req-kept"}, requestIDs(t, k.keys, s), "a withdrawn event must not be recorded")
}

func TestLogsSharingAStorageRechainAfterEachOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newTestKey(t, "ours")
	s := NewMemoryStorage()
	a, err := NewLog(s, k.signing, Options{Issuer: "https://as.example.com"})
	require.NoError(t, err)
	b, err := NewLog(s, k.signing, Options{Issuer: "https://as.example.com"})
	require.NoError(t, err)
	// Each Log remembers the head it wrote; the other's appends make that stale.
	for i, l := range []*Log{a, a, b, a, b, b, a} {
		require.NoError(t, l.Record(ctx, Event{Type: EventApproved, RequestID: fmt.Sprintf("req-%d", i+1)}))
	}
	rep, err := Verify(ctx, s, k.keys)
	require.NoError(t, err)
	require.EqualValues(t, 7, rep.Records)
}

func TestVisitErrorStopsVerify(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "ours")
	s := batchedLog(t, k)
	stop := fmt.Errorf("enough")
	n := 0
	_, err := (&Verifier{Keys: k.keys, Visit: func(int64, Event) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	}}).Verify(context.Background(), s)
	require.ErrorIs(t, err, stop)
	require.Equal(t, 3, n)
}

// panickyStorage panics on its first append.
type panickyStorage struct {
	*MemoryStorage
	mu     sync.Mutex
	panics int
}

func (p *panickyStorage) AppendAuditRecords(ctx context.Context, recs []Record) error {
	p.mu.Lock()
	panicNow := p.panics > 0
	p.panics--
	p.mu.Unlock()
	if panicNow {
		panic("storage bug")
	}
	return p.MemoryStorage.AppendAuditRecords(ctx, recs)
}

func TestStoragePanicDoesNotWedgeTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newTestKey(t, "ours")
	ps := &panickyStorage{MemoryStorage: NewMemoryStorage(), panics: 1}
	l, err := NewLog(ps, k.signing, Options{Issuer: "https://as.example.com"})
	require.NoError(t, err)
	require.Panics(t, func() { _ = l.Record(ctx, Event{Type: EventApproved, RequestID: "req-lost"}) })
	// The writer slot was released and the head is read afresh: the next event lands.
	require.NoError(t, l.Record(ctx, Event{Type: EventApproved, RequestID: "req-kept"}))
	require.Equal(t, []string{"req-kept"}, requestIDs(t, k.keys, ps))
}
