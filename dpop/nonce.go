package dpop

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/fosite-contrib/grants/internal/clock"
)

// Nonces makes and checks server-provided nonces (RFC 9449 §8). Implementations are safe for
// concurrent use and must accept, on every server instance, the nonces any instance made.
type Nonces interface {
	// NewNonce returns a fresh nonce: 1*NQCHAR (RFC 9449 §8.1), that is, printable ASCII without
	// quotation mark or backslash.
	NewNonce(ctx context.Context) (string, error)
	// CheckNonce returns when nonce was issued, or an error when this server did not issue it or it is
	// no longer accepted at now.
	CheckNonce(ctx context.Context, nonce string, now time.Time) (issued time.Time, err error)
}

// DefaultNonceLifetime is how long an HMACNonces nonce is accepted.
const DefaultNonceLifetime = 5 * time.Minute

// errBadNonce is what HMACNonces answers for a nonce it does not accept.
var errBadNonce = errors.New("dpop: the nonce is unknown or expired")

// HMACNonces are stateless nonces: the time of issue and an HMAC-SHA-256 of it under a key derived
// from a secret, base64url-encoded (32 characters). Every instance that shares the secret accepts
// every other's nonces, and nothing is stored. A nonce is accepted from its time of issue (less one
// minute, for clock differences between instances) until Lifetime after it; it may be used by any
// number of proofs in that time, each of which is still single-use by its jti.
type HMACNonces struct {
	key []byte
	// Lifetime is how long a nonce is accepted; zero means DefaultNonceLifetime.
	Lifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ Nonces = (*HMACNonces)(nil)

// NewHMACNonces returns HMAC nonces keyed from secret (at least 32 bytes, e.g. fosite's global
// secret: the key is derived from it with HMAC-SHA-256 and a label, so nonces reveal nothing of it).
func NewHMACNonces(secret []byte, lifetime time.Duration, now func() time.Time) (*HMACNonces, error) {
	if len(secret) < 32 {
		return nil, errors.New("dpop: the nonce secret must be at least 32 bytes")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fosite-contrib/grants dpop nonce key"))
	return &HMACNonces{key: m.Sum(nil), Lifetime: lifetime, Now: now}, nil
}

func (n *HMACNonces) lifetime() time.Duration {
	if n.Lifetime <= 0 {
		return DefaultNonceLifetime
	}
	return n.Lifetime
}

func (n *HMACNonces) mac(t uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], t)
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:])
	return append(b[:], m.Sum(nil)[:16]...)
}

// NewNonce implements Nonces.
func (n *HMACNonces) NewNonce(context.Context) (string, error) {
	return base64.RawURLEncoding.EncodeToString(n.mac(uint64(clock.Now(n.Now).Unix()))), nil
}

// CheckNonce implements Nonces: the MAC is compared in constant time.
func (n *HMACNonces) CheckNonce(_ context.Context, nonce string, now time.Time) (time.Time, error) {
	if len(nonce) != 32 {
		return time.Time{}, errBadNonce
	}
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return time.Time{}, errBadNonce
	}
	t := binary.BigEndian.Uint64(b[:8])
	if !hmac.Equal(b, n.mac(t)) || t > uint64(1<<62) {
		return time.Time{}, errBadNonce
	}
	issued := time.Unix(int64(t), 0)
	if now.Before(issued.Add(-time.Minute)) || !now.Before(issued.Add(n.lifetime())) {
		return time.Time{}, errBadNonce
	}
	return issued, nil
}
