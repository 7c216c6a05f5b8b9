// Package demokeys derives the example's published demo keys from fixed phrases, so that the example
// server and the demo client agree on them without a key file. DEMO: anyone can derive them; a real
// client keeps its private key to itself and registers only the public half.
package demokeys

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"sync"
)

// LoginHintTokenKeyID is the key ID of LoginHintTokenKey in the demo client's registered key set.
const LoginHintTokenKeyID = "demo-login-hint-token-1"

// LoginHintTokenKey is the ES256 key the demo CIBA client demo-ciba-token signs its login_hint_tokens
// with; the server has its public half registered for that client.
var LoginHintTokenKey = sync.OnceValues(func() (*ecdsa.PrivateKey, error) {
	return p256("DEMO login_hint_token signing key of fosite-contrib/grants")
})

// p256 derives a P-256 key from phrase (the first SHA-256 chain value that is a valid scalar).
func p256(phrase string) (*ecdsa.PrivateKey, error) {
	seed := sha256.Sum256([]byte(phrase))
	for range 16 {
		if k, err := ecdh.P256().NewPrivateKey(seed[:]); err == nil {
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				return nil, err
			}
			parsed, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, err
			}
			if ek, ok := parsed.(*ecdsa.PrivateKey); ok {
				return ek, nil
			}
		}
		seed = sha256.Sum256(seed[:])
	}
	return nil, errors.New("demokeys: cannot derive a P-256 key")
}
