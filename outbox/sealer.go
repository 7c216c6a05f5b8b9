package outbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// sealVersion is the first byte of every sealed payload, naming its format: AES-256-GCM with a
// 12-byte random nonce over the JSON of sealedPayload.
const sealVersion = 1

// hkdfInfo separates the outbox key from every other key derived from the same global secret.
const hkdfInfo = "fosite-contrib/grants outbox AES-256-GCM v1"

// ErrUnseal is returned when a sealed payload cannot be opened: it was altered, moved to another
// message, or sealed under a key the Sealer does not have.
var ErrUnseal = errors.New("outbox: cannot open sealed message (altered, moved, or unknown key)")

// Sealer encrypts the secret parts of messages (Header and Body) before they reach the store, and
// opens them for delivery. Create it with NewSealer; it is safe for concurrent use.
//
// The key is derived with HKDF-SHA256 (RFC 5869) from fosite's global secret, so no new secret has
// to be managed. The additional authenticated data binds the ciphertext to the message's ID, Kind
// and Target: someone who can write to the database cannot move a sealed Bearer token to another
// message or point it at another URL.
type Sealer struct {
	aeads []cipher.AEAD // aeads[0] seals; all open
	rand  io.Reader
}

// NewSealer derives the sealing key from secret (fosite's GetGlobalSecret, at least 32 bytes) and
// opening keys from rotated (fosite's GetRotatedGlobalSecrets), so that messages sealed before a
// secret rotation can still be delivered.
func NewSealer(secret []byte, rotated ...[]byte) (*Sealer, error) {
	s := &Sealer{rand: rand.Reader}
	for i, sec := range append([][]byte{secret}, rotated...) {
		if len(sec) < 32 {
			return nil, fmt.Errorf("outbox: secret %d is %d bytes; at least 32 are required", i, len(sec))
		}
		key, err := hkdf.Key(sha256.New, sec, nil, hkdfInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("outbox: derive key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// sealedPayload is what is encrypted.
type sealedPayload struct {
	Header map[string]string `json:"h,omitempty"`
	Body   []byte            `json:"b,omitempty"`
}

// additionalData binds a sealed payload to the message's identity: length-prefixed ID, Kind, Target.
func additionalData(id, kind, target string) []byte {
	var b []byte
	for _, s := range []string{id, kind, target} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// Seal returns the Record of m: its ID, Kind, Target, times and MaxAttempts, with Header and Body
// encrypted into Sealed.
func (s *Sealer) Seal(m Message) (Record, error) {
	plain, err := json.Marshal(sealedPayload{Header: m.Header, Body: m.Body})
	if err != nil {
		return Record{}, fmt.Errorf("outbox: encode message: %w", err)
	}
	aead := s.aeads[0]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(s.rand, out[1:]); err != nil {
		return Record{}, fmt.Errorf("outbox: nonce: %w", err)
	}
	out = aead.Seal(out, out[1:1+aead.NonceSize()], plain, additionalData(m.ID, m.Kind, m.Target))
	return Record{
		ID: m.ID, Kind: m.Kind, Target: m.Target, Sealed: out,
		CreatedAt: m.CreatedAt, NotBefore: m.NotBefore, MaxAttempts: m.MaxAttempts,
		State: m.State, Attempts: m.Attempts, NextAttemptAt: m.NextAttemptAt, LastError: m.LastError,
		Lease: m.Lease, LeaseUntil: m.LeaseUntil,
	}, nil
}

// Open returns the Message of r, decrypting its Header and Body. It fails with ErrUnseal when the
// payload was altered, belongs to another ID, Kind or Target, or was sealed under an unknown key.
func (s *Sealer) Open(r Record) (Message, error) {
	m := Message{
		ID: r.ID, Kind: r.Kind, Target: r.Target,
		CreatedAt: r.CreatedAt, NotBefore: r.NotBefore, MaxAttempts: r.MaxAttempts,
		State: r.State, Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt, LastError: r.LastError,
		Lease: r.Lease, LeaseUntil: r.LeaseUntil,
	}
	if len(r.Sealed) < 1 || r.Sealed[0] != sealVersion {
		return m, ErrUnseal
	}
	ad := additionalData(r.ID, r.Kind, r.Target)
	for _, aead := range s.aeads {
		n := aead.NonceSize()
		if len(r.Sealed) < 1+n+aead.Overhead() {
			return m, ErrUnseal
		}
		plain, err := aead.Open(nil, r.Sealed[1:1+n], r.Sealed[1+n:], ad)
		if err != nil {
			continue
		}
		var p sealedPayload
		if err := json.Unmarshal(plain, &p); err != nil {
			return m, ErrUnseal
		}
		m.Header, m.Body = p.Header, p.Body
		return m, nil
	}
	return m, ErrUnseal
}
