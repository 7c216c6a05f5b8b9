package ciba

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ory/fosite"
)

// Sealer seals client_notification_tokens for storage (AES-256-GCM under a key derived from the global
// secret) and opens them to send a callback (CIBA Core §10.2). The token is a credential the server
// must present later, so it cannot be stored as a hash; sealed, a stolen database does not yield it.
type Sealer struct {
	Config fosite.GlobalSecretProvider
}

// Additional-data suffixes that keep the two sealed values of a record apart.
const (
	sealToken     = "#client_notification_token"
	sealAuthReqID = "#auth_req_id"
)

// sealInfo separates this key from every other use of the global secret.
const sealInfo = "fosite-contrib/grants ciba client_notification_token v1"

func (s *Sealer) aead(ctx context.Context) (cipher.AEAD, error) {
	secret, err := s.Config.GetGlobalSecret(ctx)
	if err != nil {
		return nil, err
	}
	if len(secret) < 32 {
		return nil, fmt.Errorf("ciba: the global secret must be at least 32 bytes, got %d", len(secret))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(sealInfo))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts token, binding it to ref (the additional data), so that a sealed token moved to another
// record does not open.
func (s *Sealer) Seal(ctx context.Context, ref, token string) ([]byte, error) {
	a, err := s.aead(ctx)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return a.Seal(nonce, nonce, []byte(token), []byte(ref)), nil
}

// Open decrypts a sealed token of ref.
func (s *Sealer) Open(ctx context.Context, ref string, sealed []byte) (string, error) {
	a, err := s.aead(ctx)
	if err != nil {
		return "", err
	}
	if len(sealed) < a.NonceSize() {
		return "", errors.New("ciba: sealed token too short")
	}
	plain, err := a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], []byte(ref))
	if err != nil {
		return "", errors.New("ciba: sealed token does not open")
	}
	return string(plain), nil
}
