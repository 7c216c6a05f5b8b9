package linkchannel

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// A link token is what the link carries: 16 random bytes (128 bits, the entropy CIBA §7.3 asks of an
// auth_req_id) followed by an 8-byte HMAC tag over them, in unpadded base64url: 32 characters, short
// enough for a text message. The tag lets the page refuse a forged or mistyped token before it asks
// the store anything; the store keys the link by another HMAC of the random part, so a copy of the
// store does not yield working links.
const (
	idBytes    = 16
	tagBytes   = 8
	tokenBytes = idBytes + tagBytes
	// TokenLength is the length of a link token in characters.
	TokenLength = (tokenBytes*8 + 5) / 6
)

// errBadToken means the string is not a link token this server made.
var errBadToken = errors.New("linkchannel: not a valid link token")

// keys are the purpose-separated keys derived from the global secret: one tags tokens, one makes the
// storage signature. Neither equals the global secret or any key other packages derive from it. The
// pools hold HMAC states keyed with them, reset before each use.
type keys struct {
	tag, sig       []byte
	tagMAC, sigMAC *sync.Pool
}

func keysFor(secret []byte) (*keys, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("linkchannel: the global secret must be at least 32 bytes, got %d", len(secret))
	}
	base := mac(secret, []byte("fosite-contrib/grants ciba link v1"))
	k := &keys{tag: mac(base, []byte("tag")), sig: mac(base, []byte("signature"))}
	k.tagMAC = &sync.Pool{New: func() any { return hmac.New(sha256.New, k.tag) }}
	k.sigMAC = &sync.Pool{New: func() any { return hmac.New(sha256.New, k.sig) }}
	return k, nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// pooledMAC returns the HMAC of msg under the key pool's states are keyed with, appended to dst.
func pooledMAC(pool *sync.Pool, dst, msg []byte) []byte {
	h := pool.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	dst = h.Sum(dst)
	pool.Put(h)
	return dst
}

// newToken draws a token from r (crypto/rand when nil) and returns it with its storage signature.
func (k *keys) newToken(r io.Reader) (token, signature string, err error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b[:idBytes]); err != nil {
		return "", "", fmt.Errorf("linkchannel: reading randomness: %w", err)
	}
	var sum [sha256.Size]byte
	copy(b[idBytes:], pooledMAC(k.tagMAC, sum[:0], b[:idBytes])[:tagBytes])
	return base64.RawURLEncoding.EncodeToString(b), k.signature(b[:idBytes]), nil
}

// verify checks a token's form and tag in constant time and returns its storage signature.
func (k *keys) verify(token string) (string, error) {
	if len(token) != TokenLength {
		return "", errBadToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return "", errBadToken
	}
	var sum [sha256.Size]byte
	if !hmac.Equal(b[idBytes:], pooledMAC(k.tagMAC, sum[:0], b[:idBytes])[:tagBytes]) {
		return "", errBadToken
	}
	return k.signature(b[:idBytes]), nil
}

func (k *keys) signature(id []byte) string {
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(pooledMAC(k.sigMAC, sum[:0], id))
}
