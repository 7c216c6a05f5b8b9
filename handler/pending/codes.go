package pending

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ory/fosite"
	fositehmac "github.com/ory/fosite/token/hmac"
)

// UserCodeFormat describes user codes: what a person reads off a screen and types on another device.
type UserCodeFormat struct {
	// Alphabet is the set of characters codes are drawn from, all upper-case ASCII.
	Alphabet string
	// Length is the number of significant characters.
	Length int
	// GroupSize inserts a dash every GroupSize characters when a code is shown (0: never).
	GroupSize int
}

// The user-code formats of RFC 8628 §6.1.
var (
	// UserCodeBase20 is 8 characters of consonants shown as XXXX-XXXX: 20^8 ≈ 2^34.6 codes, no vowels so no
	// words, no digits so nothing to confuse with letters. The default.
	UserCodeBase20 = UserCodeFormat{Alphabet: "BCDFGHJKLMNPQRSTVWXZ", Length: 8, GroupSize: 4}
	// UserCodeDigits is 9 digits shown as 123-456-789: 10^9 ≈ 2^29.9 codes, for devices with a numeric pad.
	UserCodeDigits = UserCodeFormat{Alphabet: "0123456789", Length: 9, GroupSize: 3}
)

// Validate reports whether the format can produce codes.
func (f UserCodeFormat) Validate() error {
	if f.Length < 6 || len(f.Alphabet) < 2 {
		return fmt.Errorf("user code format: need at least 6 characters from an alphabet of at least 2, got %d from %q", f.Length, f.Alphabet)
	}
	for i := 0; i < len(f.Alphabet); i++ {
		c := f.Alphabet[i]
		if !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') {
			return fmt.Errorf("user code format: alphabet may hold only A-Z and 0-9, got %q", c)
		}
		if strings.IndexByte(f.Alphabet[i+1:], c) >= 0 {
			return fmt.Errorf("user code format: alphabet repeats %q", c)
		}
	}
	return nil
}

// Generate draws a new code from r (crypto/rand.Reader when nil). Each character is drawn uniformly with
// rejection sampling (crypto/rand.Int), so no character is likelier than another (no modulo bias).
func (f UserCodeFormat) Generate(r io.Reader) (string, error) {
	if err := f.Validate(); err != nil {
		return "", err
	}
	if r == nil {
		r = rand.Reader
	}
	max := big.NewInt(int64(len(f.Alphabet)))
	b := make([]byte, f.Length)
	for i := range b {
		n, err := rand.Int(r, max)
		if err != nil {
			return "", err
		}
		b[i] = f.Alphabet[n.Int64()]
	}
	return string(b), nil
}

// Normalize turns what a person typed into the code to compare, as RFC 8628 §6.1 recommends: lower case
// becomes upper case, and everything outside the alphabet (dashes, spaces, punctuation, anything not
// ASCII) is dropped. It never returns a character outside the alphabet.
func (f UserCodeFormat) Normalize(input string) string {
	var b strings.Builder
	b.Grow(f.Length)
	for i := 0; i < len(input); i++ {
		c := input[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 0x80 && strings.IndexByte(f.Alphabet, c) >= 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Display formats a normalised code for people: groups separated by dashes.
func (f UserCodeFormat) Display(code string) string {
	if f.GroupSize <= 0 || len(code) <= f.GroupSize {
		return code
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		if i > 0 && i%f.GroupSize == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(code[i])
	}
	return b.String()
}

// Codes makes and recognises the secrets of pending grants: handles (device_code, auth_req_id, oob_code)
// are fosite HMAC tokens, stored by signature; user codes are stored as an HMAC-SHA256 under a key
// derived from the global secret, so a stolen database yields neither.
//
// Make one with NewCodes; it is safe for concurrent use.
type Codes struct {
	// Config provides the global secret and token entropy (a *fosite.Config will do).
	Config fositehmac.HMACStrategyConfigurator
	// Rand is the source of randomness for user codes; nil means crypto/rand.
	Rand io.Reader

	handles fositehmac.HMACStrategy
	fast    atomic.Pointer[handleMAC]
}

// NewCodes returns Codes using config's global secret.
func NewCodes(config fositehmac.HMACStrategyConfigurator) *Codes {
	return NewCodesWithRand(config, nil)
}

// NewCodesWithRand returns Codes using config's global secret and rand (nil: crypto/rand) for user
// codes.
func NewCodesWithRand(config fositehmac.HMACStrategyConfigurator, rand io.Reader) *Codes {
	return &Codes{Config: config, Rand: rand, handles: fositehmac.HMACStrategy{Config: config}}
}

// NewHandle returns a new handle for the client and the signature to store. With fosite's default
// entropy a handle carries 256 random bits, and its characters are A-Z a-z 0-9 - _ . only (what CIBA §7.3
// requires of an auth_req_id).
func (c *Codes) NewHandle(ctx context.Context) (handle, signature string, err error) {
	return c.handles.Generate(ctx)
}

// HandleSignature checks a handle presented by a client and returns its signature. A handle this
// server did not make fails here, before any storage lookup.
func (c *Codes) HandleSignature(ctx context.Context, handle string) (string, error) {
	if handle == "" {
		return "", fosite.ErrInvalidGrant.WithHint("The handle is missing.")
	}
	if sig, ok := c.validHandle(ctx, handle); ok {
		return sig, nil
	}
	if err := c.handles.Validate(ctx, handle); err != nil {
		return "", fosite.ErrInvalidGrant.WithHint("The handle is unknown.").WithWrap(err).WithDebug(err.Error())
	}
	return c.handles.Signature(handle), nil
}

// UserCodeSignature returns the keyed hash under which a normalised user code of that kind is stored.
// The kind is part of the hash so that equal codes of different grants never match.
func (c *Codes) UserCodeSignature(ctx context.Context, kind Kind, normalized string) (string, error) {
	if normalized == "" {
		return "", errors.New("pending: empty user code")
	}
	secret, err := c.Config.GetGlobalSecret(ctx)
	if err != nil {
		return "", err
	}
	if len(secret) < 32 {
		return "", fmt.Errorf("pending: the global secret must be at least 32 bytes, got %d", len(secret))
	}
	// Derive a key for this purpose alone, so the user-code hash never equals a token signature.
	k := hmac.New(sha256.New, secret)
	k.Write([]byte("fosite-contrib/grants user code v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(normalized))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// handleMAC is fosite's HMAC-SHA512/256 under one signing key, with a pool of keyed hashes: fosite's
// HMACStrategy builds a new HMAC (and decodes into new buffers) on every call, which is most of what a
// pending poll allocates.
type handleMAC struct {
	key  [32]byte
	pool sync.Pool // of *handleMACState
}

type handleMACState struct {
	h   hash.Hash
	in  [128]byte
	key [96]byte
	sig [64]byte
	sum [sha512.Size256]byte
}

// handleMaxLen and handleMaxSigLen bound the parts of a handle validHandle decodes into its fixed
// buffers; longer ones (a token entropy above 96 bytes, a signature that is not SHA-512/256) take
// fosite's path.
const (
	handleMaxLen    = 128
	handleMaxSigLen = 64
)

// validHandle is the allocation-free fast path of HandleSignature: it reports ok only when fosite's
// HMACStrategy.Validate would accept the handle under the current global secret, with fosite's default
// hash. Every other case (a custom HMAC hash, rotated secrets, a malformed or forged handle) returns
// ok == false and is decided by fosite's own code, so the answers and errors are exactly fosite's.
func (c *Codes) validHandle(ctx context.Context, handle string) (signature string, ok bool) {
	if c.Config.GetHMACHasher(ctx) != nil {
		return "", false
	}
	if rotated, err := c.Config.GetRotatedGlobalSecrets(ctx); err != nil || len(rotated) > 0 {
		return "", false
	}
	secret, err := c.Config.GetGlobalSecret(ctx)
	if err != nil || len(secret) < 32 {
		return "", false
	}
	key, sig, found := strings.Cut(handle, ".")
	if !found || key == "" || sig == "" || len(key) > handleMaxLen || len(sig) > handleMaxSigLen {
		return "", false
	}
	m := c.fast.Load()
	if m == nil || !hmac.Equal(m.key[:], secret[:32]) {
		m = &handleMAC{}
		copy(m.key[:], secret) // fosite signs with the secret's first 32 bytes
		k := m.key
		m.pool.New = func() interface{} { return &handleMACState{h: hmac.New(sha512.New512_256, k[:])} }
		c.fast.Store(m)
	}
	st := m.pool.Get().(*handleMACState)
	defer m.pool.Put(st)
	enc := base64.RawURLEncoding
	n := copy(st.in[:], key)
	kn, err := enc.Decode(st.key[:], st.in[:n])
	if err != nil {
		return "", false
	}
	n = copy(st.in[:], sig)
	sn, err := enc.Decode(st.sig[:], st.in[:n])
	if err != nil {
		return "", false
	}
	st.h.Reset()
	st.h.Write(st.key[:kn])
	if !hmac.Equal(st.h.Sum(st.sum[:0]), st.sig[:sn]) {
		return "", false
	}
	return sig, true
}
