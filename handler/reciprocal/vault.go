package reciprocal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"golang.org/x/oauth2"
)

// vaultVersion is the first byte of every sealed token: the format and key derivation in use.
const vaultVersion = 1

// ErrUnsealable is returned when a sealed token cannot be opened: it was sealed under another key,
// tampered with, or moved to another (client, subject) row.
var ErrUnsealable = errors.New("reciprocal: the stored token cannot be opened with the configured secrets")

// Vault seals the tokens party B receives from party A, which party B must later present and so cannot
// keep as hashes: AES-256-GCM under a key derived with HKDF-SHA256 from the server's global secret.
// The (client, subject) pair is authenticated data, so a sealed token moved to another user's row does
// not open. Rotated secrets open tokens sealed before a rotation; new tokens are sealed under the first.
type Vault struct {
	aeads  []cipher.AEAD
	macKey []byte
}

// NewVault derives the vault's keys from secret (at least 32 bytes; fosite's GlobalSecret) and from
// the rotated secrets, which are only used to open.
func NewVault(secret []byte, rotated ...[]byte) (*Vault, error) {
	v := &Vault{}
	for i, s := range append([][]byte{secret}, rotated...) {
		if len(s) < 32 {
			return nil, errors.New("reciprocal: the vault secret must be at least 32 bytes")
		}
		key, err := hkdf.Key(sha256.New, s, nil, "fosite-contrib/grants reciprocal token vault v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		v.aeads = append(v.aeads, aead)
		if i == 0 {
			if v.macKey, err = hkdf.Key(sha256.New, s, nil, "fosite-contrib/grants reciprocal code hash v1", 32); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// sealedToken is the plaintext of a sealed token.
type sealedToken struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitempty"`
	Scope        string    `json:"scope,omitempty"`
}

// The purposes a token is sealed for, the first part of its authenticated data: a token sealed for one
// table does not open as a row of another.
const (
	purposeToken = "reciprocal token" // party B's tokens from its partners (TokenStorage)
	purposeLink  = "reciprocal link"  // party A's links with its partners (LinkStorage)
)

func additionalData(purpose, clientID, subject string) []byte {
	return []byte(purpose + "\x00" + clientID + "\x00" + subject)
}

// Seal encrypts t for the row (clientID, subject).
func (v *Vault) Seal(t *oauth2.Token, clientID, subject string) ([]byte, error) {
	return v.seal(t, purposeToken, clientID, subject)
}

// Open decrypts a token sealed for the row (clientID, subject), or returns ErrUnsealable.
func (v *Vault) Open(sealed []byte, clientID, subject string) (*oauth2.Token, error) {
	return v.open(sealed, purposeToken, clientID, subject)
}

func (v *Vault) seal(t *oauth2.Token, purpose, clientID, subject string) ([]byte, error) {
	if t == nil || t.AccessToken == "" {
		return nil, errors.New("reciprocal: no access token to seal")
	}
	st := sealedToken{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, Expiry: t.Expiry.UTC()}
	if s, ok := t.Extra("scope").(string); ok {
		st.Scope = s
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	aead := v.aeads[0]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = vaultVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], plain, additionalData(purpose, clientID, subject)), nil
}

func (v *Vault) open(sealed []byte, purpose, clientID, subject string) (*oauth2.Token, error) {
	if len(sealed) < 1 || sealed[0] != vaultVersion {
		return nil, ErrUnsealable
	}
	for _, aead := range v.aeads {
		if len(sealed) < 1+aead.NonceSize()+aead.Overhead() {
			return nil, ErrUnsealable
		}
		nonce, box := sealed[1:1+aead.NonceSize()], sealed[1+aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, box, additionalData(purpose, clientID, subject))
		if err != nil {
			continue
		}
		var st sealedToken
		if err := json.Unmarshal(plain, &st); err != nil {
			return nil, ErrUnsealable
		}
		t := &oauth2.Token{AccessToken: st.AccessToken, TokenType: st.TokenType, RefreshToken: st.RefreshToken, Expiry: st.Expiry}
		if st.Scope != "" {
			t = t.WithExtra(map[string]interface{}{"scope": st.Scope})
		}
		return t, nil
	}
	return nil, ErrUnsealable
}

// CodeHash is a keyed hash of one of party A's codes, kept so that a code presented again is
// recognised (and answered as before) without being kept.
func (v *Vault) CodeHash(code string) string {
	m := hmac.New(sha256.New, v.macKey)
	m.Write([]byte(code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
