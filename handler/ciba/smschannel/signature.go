package smschannel

import (
	"crypto/hmac"
	"crypto/sha1" // HMAC-SHA1 is what Twilio signs with; HMAC does not rely on collision resistance
	"encoding/base64"
	"errors"
	"hash"
	"net/url"
	"slices"
)

// DefaultSignatureHeader is the header Signer reads and writes when Header is empty: the one Twilio
// sends.
const DefaultSignatureHeader = "X-Twilio-Signature"

// MinSignerKeyLength is the shortest webhook key Signer accepts, in bytes.
const MinSignerKeyLength = 16

// Signer computes and checks the signature an SMS provider puts on the webhook requests it sends for
// each incoming text message, in the shape the common providers use (Twilio's request validation; other
// providers build the same string and use SHA-256):
//
//	base64( HMAC(key, URL + name1 + value1 + name2 + value2 + ...) )
//
// where URL is the full URL the provider posted to (scheme, host, path and query, exactly as configured
// at the provider) and the names are the form's POST parameters sorted by name (and a repeated name's
// values sorted), each name immediately followed by its value. The signature travels in Header.
type Signer struct {
	// Key is the secret shared with the provider (Twilio: the account's auth token). At least
	// MinSignerKeyLength bytes.
	Key []byte
	// Header is the request header holding the signature; empty means DefaultSignatureHeader.
	Header string
	// Hash is the HMAC's hash function; nil means SHA-1, as Twilio signs.
	Hash func() hash.Hash
}

// errShortKey is returned by check for a key too short to be a shared secret.
var errShortKey = errors.New("smschannel: the webhook signing key must be at least 16 bytes")

func (s Signer) check() error {
	if len(s.Key) < MinSignerKeyLength {
		return errShortKey
	}
	return nil
}

func (s Signer) header() string {
	if s.Header == "" {
		return DefaultSignatureHeader
	}
	return s.Header
}

func (s Signer) mac(rawURL string, form url.Values) []byte {
	h := s.Hash
	if h == nil {
		h = sha1.New
	}
	m := hmac.New(h, s.Key)
	m.Write([]byte(rawURL))
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := slices.Clone(form[name])
		slices.Sort(values)
		for _, v := range values {
			m.Write([]byte(name))
			m.Write([]byte(v))
		}
	}
	return m.Sum(nil)
}

// Sign returns the signature of a POST of form to rawURL (what the provider would send, and what the
// development outbox sends to the webhook).
func (s Signer) Sign(rawURL string, form url.Values) string {
	return base64.StdEncoding.EncodeToString(s.mac(rawURL, form))
}

// Verify reports whether signature is the signature of a POST of form to rawURL. It compares in
// constant time, and is false for a key shorter than MinSignerKeyLength.
func (s Signer) Verify(rawURL string, form url.Values, signature string) bool {
	if s.check() != nil {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(rawURL, form))
}
