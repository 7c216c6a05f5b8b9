package audit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-jose/go-jose/v3"
)

// maxAttempts bounds how often Record retries after ErrConflict. Each
// conflict means another writer appended, so the log keeps moving; the bound
// only stops a Storage that wrongly reports conflicts forever.
const maxAttempts = 1000

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
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of "jti" values; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Log is the default Sink: it writes each Event as a signed Security Event
// Token (RFC 8417) chained to the one before it, into a Storage.
//
// A Log is safe for concurrent use. Record calls on one Log are serialized;
// several Logs (or processes) sharing one Storage stay consistent because
// Storage.AppendAuditRecord is conditional and Record retries on ErrConflict.
type Log struct {
	storage  Storage
	signer   jose.Signer
	issuer   string
	audience []string
	now      func() time.Time
	rand     io.Reader
	sem      chan struct{} // one Record at a time in this process
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
		now:      opts.Now,
		rand:     opts.Rand,
		sem:      make(chan struct{}, 1),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.rand == nil {
		l.rand = rand.Reader
	}
	return l, nil
}

// Record implements Sink. It signs e as a SET whose "seq" is one more than
// the last stored record and whose "prev" is the hash of that record, and
// appends it. If another writer appended first it re-reads the head and tries
// again, so no two records ever chain onto the same predecessor.
func (l *Log) Record(ctx context.Context, e Event) error {
	if err := e.validate(); err != nil {
		return err
	}
	select {
	case l.sem <- struct{}{}:
		defer func() { <-l.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}

	now := l.now()
	if e.Time.IsZero() {
		e.Time = now
	}
	jti, err := l.newID()
	if err != nil {
		return err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		seq, last, err := l.storage.LastAuditRecord(ctx)
		if err != nil {
			return fmt.Errorf("audit: read log head: %w", err)
		}
		prev := GenesisHash
		if seq > 0 {
			if last == "" {
				return fmt.Errorf("audit: storage returned an empty token for seq %d", seq)
			}
			prev = TokenHash(last)
		}
		token, err := l.sign(newClaims(e, l.issuer, l.audience, now, jti, seq+1, prev))
		if err != nil {
			return err
		}
		err = l.storage.AppendAuditRecord(ctx, seq+1, token)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("audit: append seq %d: %w", seq+1, err)
		}
		return nil
	}
	return fmt.Errorf("audit: gave up after %d conflicting appends: %w", maxAttempts, ErrConflict)
}

func (l *Log) sign(c setClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("audit: event does not marshal to JSON: %w", err)
	}
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
