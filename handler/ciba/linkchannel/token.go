package linkchannel

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/ory/fosite"
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
// storage signature. Neither equals the global secret or any key other packages derive from it.
type keys struct{ tag, sig []byte }

func deriveKeys(ctx context.Context, secrets fosite.GlobalSecretProvider) (keys, error) {
	if secrets == nil {
		return keys{}, errors.New("linkchannel: no global secret provider")
	}
	secret, err := secrets.GetGlobalSecret(ctx)
	if err != nil {
		return keys{}, err
	}
	if len(secret) < 32 {
		return keys{}, fmt.Errorf("linkchannel: the global secret must be at least 32 bytes, got %d", len(secret))
	}
	base := mac(secret, []byte("fosite-contrib/grants ciba link v1"))
	return keys{tag: mac(base, []byte("tag")), sig: mac(base, []byte("signature"))}, nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// newToken draws a token from r (crypto/rand when nil) and returns it with its storage signature.
func (k keys) newToken(r io.Reader) (token, signature string, err error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b[:idBytes]); err != nil {
		return "", "", fmt.Errorf("linkchannel: reading randomness: %w", err)
	}
	copy(b[idBytes:], mac(k.tag, b[:idBytes])[:tagBytes])
	return base64.RawURLEncoding.EncodeToString(b), k.signature(b[:idBytes]), nil
}

// verify checks a token's form and tag in constant time and returns its storage signature.
func (k keys) verify(token string) (string, error) {
	if len(token) != TokenLength {
		return "", errBadToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenBytes {
		return "", errBadToken
	}
	if !hmac.Equal(b[idBytes:], mac(k.tag, b[:idBytes])[:tagBytes]) {
		return "", errBadToken
	}
	return k.signature(b[:idBytes]), nil
}

func (k keys) signature(id []byte) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.sig, id))
}
