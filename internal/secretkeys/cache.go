// Package secretkeys keeps keys derived from fosite's global secret, so that a request pays for a key
// derivation only when the secret changed since the last one (a rotation is noticed on the next use).
// The CIBA link and SMS channels derive their HMAC keys through it.
package secretkeys

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"

	"github.com/ory/fosite"
)

// Cache derives K from the global secret Secrets gives, once per secret. The zero Cache is not usable:
// set Secrets and Derive. A Cache must not be copied after first use.
type Cache[K any] struct {
	// Secrets gives the current global secret.
	Secrets fosite.GlobalSecretProvider
	// Derive makes the keys of a secret; its error (a secret too short, say) is Get's.
	Derive func(secret []byte) (K, error)

	last atomic.Pointer[entry[K]]
}

type entry[K any] struct {
	secret []byte // a copy
	keys   K
}

// Get returns the keys of the current global secret, derived again only when the secret changed.
func (c *Cache[K]) Get(ctx context.Context) (K, error) {
	var zero K
	if c.Secrets == nil || c.Derive == nil {
		return zero, errors.New("secretkeys: no global secret provider or derivation")
	}
	secret, err := c.Secrets.GetGlobalSecret(ctx)
	if err != nil {
		return zero, err
	}
	// The server's own secret against its own copy: no attacker-chosen input, no timing concern.
	if e := c.last.Load(); e != nil && bytes.Equal(e.secret, secret) {
		return e.keys, nil
	}
	k, err := c.Derive(secret)
	if err != nil {
		return zero, err
	}
	c.last.Store(&entry[K]{secret: bytes.Clone(secret), keys: k})
	return k, nil
}
