package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/internal/groupcommit"
	"github.com/fosite-contrib/grants/observe"
)

// maxAttempts bounds how often a batch is retried after ErrConflict. Each
// conflict means another writer appended, so the log keeps moving; the bound
// only stops a Storage that wrongly reports conflicts forever.
const maxAttempts = 1000

// DefaultMaxBatch is how many events one signature seals at most when
// Options.MaxBatch is 0.
const DefaultMaxBatch = 256

// Options configures a Log.
type Options struct {
	// Issuer is the "iss" claim (RFC 8417 Section 2.2, REQUIRED): the
	// authorization server's issuer URL.
	Issuer string
	// Audience, if set, is the "aud" claim: who the SETs are meant for.
	Audience []string
	// KeyID, if set, is the "kid" header. Without it the KeyID of a
	// jose.JSONWebKey signing key is used.
	KeyID string
	// MaxBatch is how many events, recorded at the same time, one signature
	// seals at most (see "Sealing" in the package documentation); 0 means
	// DefaultMaxBatch, 1 signs every event on its own.
	MaxBatch int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of "jti" values; nil means crypto/rand.Reader.
	Rand io.Reader
	// Observer, when not nil, is told about every batch appended: its size, how long signing and
	// storing took, and its error.
	Observer observe.Audit
}

// Log is the default Sink: it writes each Event as a Security Event Token
// (RFC 8417) chained to the one before it, into a Storage, and signs the
// newest record of every batch it appends, which seals the whole chain up to
// it.
//
// A Log is safe for concurrent use. Events recorded while this Log is busy
// writing are appended together by the next writer, under one signature
// (group commit): under load a signature costs little per event, and an
// event recorded alone is signed alone. Several Logs (or processes) sharing
// one Storage stay consistent because Storage.AppendAuditRecords is
// conditional and a Log retries on ErrConflict.
type Log struct {
	storage  Storage
	signer   jose.Signer
	issuer   string
	audience []string
	maxBatch int
	now      func() time.Time
	rand     io.Reader
	observer observe.Audit

	// group batches concurrent Records (group commit). Its turn guards the fields below.
	group  *groupcommit.Group
	batch  [][]byte // the open batch: each event's claims but seq and prev, which seal puts in front
	head   Head     // the newest record this Log knows of
	headOK bool     // head is worth trying; re-read after a conflict or error
}

var _ Sink = (*Log)(nil)

// NewLog returns a Log that signs with key and appends to storage.
//
// key must use an asymmetric algorithm from DefaultAlgorithms (ES256 is a
// good default): whoever can verify the log must not be able to write it.
// For a key held in a KMS or HSM, wrap its crypto.Signer with
// github.com/go-jose/go-jose/v3/cryptosigner.Opaque and set Options.KeyID.
func NewLog(storage Storage, key jose.SigningKey, opts Options) (*Log, error) {
	if storage == nil {
		return nil, errors.New("audit: NewLog needs a Storage")
	}
	if opts.Issuer == "" {
		return nil, errors.New(`audit: NewLog needs Options.Issuer for the "iss" claim`)
	}
	if opts.MaxBatch < 0 {
		return nil, errors.New("audit: Options.MaxBatch is negative")
	}
	if !algAllowed(key.Algorithm, DefaultAlgorithms) {
		return nil, fmt.Errorf("audit: signing algorithm %q is not allowed; use an asymmetric one such as ES256", key.Algorithm)
	}
	so := (&jose.SignerOptions{}).WithType(TokenType)
	if opts.KeyID != "" {
		so = so.WithHeader(jose.HeaderKey("kid"), opts.KeyID)
	}
	signer, err := jose.NewSigner(key, so)
	if err != nil {
		return nil, fmt.Errorf("audit: cannot sign with the given key: %w", err)
	}
	l := &Log{
		storage:  storage,
		signer:   signer,
		issuer:   opts.Issuer,
		audience: append([]string(nil), opts.Audience...),
		maxBatch: opts.MaxBatch,
		now:      opts.Now,
		rand:     opts.Rand,
		observer: opts.Observer,
	}
	if l.maxBatch == 0 {
		l.maxBatch = DefaultMaxBatch
	}
	l.group = groupcommit.New(l.maxBatch, l.commit)
	if l.now == nil {
		l.now = time.Now
	}
	if l.rand == nil {
		l.rand = rand.Reader
	}
	return l, nil
}

// Record implements Sink. It returns once e is stored and sealed by a
// signature: as the newest record of a batch, signed itself, or as an earlier
// one, whose hash the signed record covers through the chain. If another
// writer appended first the batch is rebuilt on top of the winner, so no two
// records ever chain onto the same predecessor.
//
// When ctx ends while the event waits to join a batch, Record returns
// ctx.Err() and the event is not recorded; once it is in a batch, Record
// returns the batch's outcome.
func (l *Log) Record(ctx context.Context, e Event) error {
	if err := e.validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e = withRequestID(ctx, e)
	now := l.now()
	if e.Time.IsZero() {
		e.Time = now
	}
	jti, err := l.newID()
	if err != nil {
		return err
	}
	// Marshal the event now: Record must not keep e.Data after it returns,
	// and a batch must not fail for one event that cannot be written.
	body, err := newBody(e, l.issuer, l.audience, now, jti)
	if err != nil {
		return err
	}
	// Events recorded while a batch is being written wait for the turn and then go into the next
	// batch together (internal/groupcommit): the writer that finds nobody waiting after it appends the
	// batch and signs its newest record, and every Record of the batch returns the outcome.
	fresh, err := l.group.Enter(ctx)
	if err != nil {
		return err // not recorded
	}
	if fresh {
		l.batch = l.batch[:0]
	}
	l.batch = append(l.batch, body)
	return l.group.Leave(true)
}

// batchTimeout bounds the storage calls of one batch. They run without the
// callers' contexts, and the callers wait for them.
const batchTimeout = 30 * time.Second

// commit appends the open batch of n events; the group calls it holding the
// turn. If the Storage panics, the batch fails and the head is read afresh.
func (l *Log) commit(n int) error {
	if n == 0 {
		return nil
	}
	known := l.headOK
	l.headOK = false
	start := time.Now()
	head, ok, err := l.appendBatch(l.batch, l.head, known)
	l.head, l.headOK = head, ok
	if l.observer != nil {
		l.observer.AuditBatch(n, time.Since(start), err)
	}
	return err
}

// appendBatch chains batch onto the log and appends it, retrying on top of
// whoever appended first. It returns the new head and whether it is known.
func (l *Log) appendBatch(batch [][]byte, head Head, headOK bool) (Head, bool, error) {
	// The batch is written for all its events, not for the caller that
	// happens to write it: neither its cancellation nor its transaction (a
	// store may carry one in the context) may decide their fate.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if !headOK {
			seq, last, err := l.storage.LastAuditRecord(ctx)
			if err != nil {
				return head, false, fmt.Errorf("audit: read log head: %w", err)
			}
			if seq > 0 && last == "" {
				return head, false, fmt.Errorf("audit: storage returned an empty token for seq %d", seq)
			}
			head = Head{Seq: seq, Hash: GenesisHash}
			if seq > 0 {
				head.Hash = TokenHash(last)
			}
		}
		recs, next, err := l.seal(batch, head)
		if err != nil {
			return head, false, err
		}
		err = l.storage.AppendAuditRecords(ctx, recs)
		if errors.Is(err, ErrConflict) {
			headOK = false
			continue
		}
		if err != nil {
			return head, false, fmt.Errorf("audit: append seq %d to %d: %w", recs[0].Seq, next.Seq, err)
		}
		return next, true, nil
	}
	return head, false, fmt.Errorf("audit: gave up after %d conflicting appends: %w", maxAttempts, ErrConflict)
}

// seal chains the batch onto head: every record's "prev" is the hash of the
// one before it, and the last record is signed, which seals them all. The
// others are the bare JSON claims sets.
func (l *Log) seal(batch [][]byte, head Head) ([]Record, Head, error) {
	recs := make([]Record, len(batch))
	for i, body := range batch {
		seq := head.Seq + 1
		payload := chainPayload(body, seq, head.Hash)
		token := string(payload)
		if i == len(batch)-1 {
			var err error
			if token, err = l.sign(payload); err != nil {
				return nil, head, err
			}
		}
		recs[i] = Record{Seq: seq, Token: token}
		head = Head{Seq: seq, Hash: TokenHash(token)}
	}
	return recs, head, nil
}

func (l *Log) sign(payload []byte) (string, error) {
	jws, err := l.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("audit: sign event: %w", err)
	}
	return jws.CompactSerialize()
}

// newID returns a 128-bit random "jti" (RFC 8417 Section 2.2: unique per SET).
func (l *Log) newID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(l.rand, b[:]); err != nil {
		return "", fmt.Errorf("audit: read randomness for jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
