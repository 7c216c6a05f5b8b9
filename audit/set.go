package audit

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
)

// TokenType is the JOSE "typ" header of every SET the Log writes
// (RFC 8417 Section 2.3, explicit typing).
const TokenType = "secevent+jwt"

// GenesisHash is the "prev" claim of the first SET in a log: base64url of 32
// zero bytes. It is also Report.Head.Hash of an empty log.
const GenesisHash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// ErrInvalidToken is wrapped by every error Decode returns for a token that
// is not a valid SET from a trusted key.
var ErrInvalidToken = errors.New("audit: invalid security event token")

// DefaultAlgorithms is the signature allow-list used when none is given:
// asymmetric algorithms only, so that holding the verification key does not
// let anyone write entries. "none" and the HMAC algorithms are never allowed.
var DefaultAlgorithms = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
}

// TokenHash returns base64url(SHA-256(token)), the value the next SET in the
// chain carries in its "prev" claim.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyFunc returns the public key that verifies a SET whose protected header
// is h, or an error when no trusted key matches (for example an unknown "kid").
// It is only called for algorithms on the allow-list.
type KeyFunc func(h jose.Header) (any, error)

// KeySet returns a KeyFunc that picks the key named by the header's "kid"
// from set. A header without "kid" matches only when set holds exactly one
// key. Keys whose "alg" or "use" disagree, and symmetric keys, never match.
// Keep retired public keys in set after a rotation so old entries verify.
func KeySet(set *jose.JSONWebKeySet) KeyFunc {
	return func(h jose.Header) (any, error) {
		if set == nil {
			return nil, errors.New("no key set")
		}
		candidates := set.Keys
		if h.KeyID != "" {
			candidates = set.Key(h.KeyID)
		} else if len(candidates) != 1 {
			return nil, errors.New(`header has no "kid" and the key set does not hold exactly one key`)
		}
		for _, k := range candidates {
			if k.Algorithm != "" && k.Algorithm != h.Algorithm {
				continue
			}
			if k.Use != "" && k.Use != "sig" {
				continue
			}
			pub := k.Public()
			if !pub.Valid() {
				continue
			}
			return pub, nil
		}
		return nil, fmt.Errorf("no trusted key with kid %q for alg %s", h.KeyID, h.Algorithm)
	}
}

// PublicKey returns a KeyFunc that trusts exactly one public key
// (*ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey) and ignores "kid".
// With a single key a signature from any other key is reported as an edit;
// use KeySet with key IDs to tell the two apart.
func PublicKey(pub crypto.PublicKey) KeyFunc {
	return func(jose.Header) (any, error) { return pub, nil }
}

// subjectID is an RFC 9493 Section 3.2.4 "opaque" subject identifier.
type subjectID struct {
	Format string `json:"format"`
	ID     string `json:"id"`
}

// setClaims is the JWT claims set of one audit SET.
type setClaims struct {
	Issuer   string       `json:"iss"`           // RFC 8417 Section 2.2, REQUIRED
	IssuedAt int64        `json:"iat"`           // RFC 8417 Section 2.2, REQUIRED
	ID       string       `json:"jti"`           // RFC 8417 Section 2.2, REQUIRED
	Audience jwt.Audience `json:"aud,omitempty"` // RFC 8417 Section 2.2, OPTIONAL
	// RFC 9493 Section 4.1. "sub" is left out so that a SET never looks like
	// an ID token to code that checks "sub" (RFC 8417 Section 4.3).
	SubjectID   *subjectID `json:"sub_id,omitempty"`
	TimeOfEvent int64      `json:"toe"`           // RFC 8417 Section 2.2
	Transaction string     `json:"txn,omitempty"` // RFC 8417 Section 2.2
	// Chain claims, private to this package.
	Seq  int64  `json:"seq"`
	Prev string `json:"prev"`
	// RFC 8417 Section 2.2: one member per event, named by its type URI,
	// whose value MUST be a JSON object.
	Events map[string]json.RawMessage `json:"events"`
}

// chainPayload returns the claims set of a record: body, a JSON object from
// newBody, with "seq" and "prev" put in front. prev is base64url (or the
// genesis hash), which needs no escaping in JSON.
func chainPayload(body []byte, seq int64, prev string) []byte {
	out := make([]byte, 0, len(body)+len(prev)+32)
	out = append(out, `{"seq":`...)
	out = strconv.AppendInt(out, seq, 10)
	out = append(out, `,"prev":"`...)
	out = append(out, prev...)
	out = append(out, `",`...)
	return append(out, body[1:]...)
}

// event turns the claims back into the Event they were made from.
func (c *setClaims) event() (Event, error) {
	// Log writes exactly one event per SET (RFC 8417 Section 2.2: one
	// logical event per SET).
	if len(c.Events) != 1 {
		return Event{}, fmt.Errorf(`"events" holds %d members, want 1`, len(c.Events))
	}
	var e Event
	for typ, raw := range c.Events {
		e.Type = typ
		var payload map[string]any
		if err := json.Unmarshal(raw, &payload); err != nil || payload == nil {
			return Event{}, fmt.Errorf("event %q is not a JSON object", typ)
		}
		for k, v := range payload {
			var ok bool
			switch k {
			case claimGrant:
				e.Grant, ok = v.(string)
			case claimActor:
				e.Actor, ok = v.(string)
			case claimClientID:
				e.ClientID, ok = v.(string)
			default:
				if e.Data == nil {
					e.Data = make(map[string]any)
				}
				e.Data[k], ok = v, true
			}
			if !ok {
				return Event{}, fmt.Errorf("event member %q is not a string", k)
			}
		}
	}
	if c.SubjectID != nil {
		if c.SubjectID.Format != "opaque" {
			return Event{}, fmt.Errorf("sub_id format %q is not supported", c.SubjectID.Format)
		}
		e.Subject = c.SubjectID.ID
	}
	e.RequestID = c.Transaction
	e.Time = time.Unix(c.TimeOfEvent, 0).UTC()
	return e, nil
}

// parseError says why a token failed and how Verify should classify it.
type parseError struct {
	reason Reason
	err    error
}

func (p *parseError) Error() string { return p.err.Error() }
func (p *parseError) Unwrap() error { return p.err }

// parse checks a stored record and returns its claims and whether it is
// signed. A signed record must be a compact JWS with an allowed algorithm, a
// valid signature from a trusted key and the SET "typ"; an unsigned one is a
// bare JSON claims set, which only the next signed record in the chain can
// vouch for (Verify checks that). Neither accepts a JSON-serialized JWS or an
// algorithm that is not in algs.
func parse(token string, keys KeyFunc, algs []jose.SignatureAlgorithm) (*setClaims, bool, error) {
	if strings.HasPrefix(token, "{") {
		c, err := parseUnsigned(token)
		return c, false, err
	}
	c, err := parseSigned(token, keys, algs)
	return c, true, err
}

func malformed(format string, a ...any) error {
	return &parseError{ReasonMalformed, fmt.Errorf(format, a...)}
}

func parseUnsigned(token string) (*setClaims, error) {
	var c setClaims
	dec := json.NewDecoder(strings.NewReader(token))
	if err := dec.Decode(&c); err != nil {
		return nil, malformed("unsigned record is not a SET claims set: %v", err)
	}
	if dec.More() {
		return nil, malformed("unsigned record has data after its claims set")
	}
	return &c, checkClaims(&c)
}

func parseSigned(token string, keys KeyFunc, algs []jose.SignatureAlgorithm) (*setClaims, error) {
	// ParseSigned also accepts the JSON serialization; the log holds only
	// compact tokens, so anything else was not written by Log.
	if strings.Count(token, ".") != 2 || strings.ContainsAny(token, "{ \t\r\n") {
		return nil, malformed("not a compact JWS")
	}
	jws, err := jose.ParseSigned(token)
	if err != nil {
		return nil, malformed("not a JWS: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, malformed("JWS has %d signatures, want 1", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	if !algAllowed(jose.SignatureAlgorithm(h.Algorithm), algs) {
		return nil, &parseError{ReasonBadSignature, fmt.Errorf("algorithm %q is not allowed", h.Algorithm)}
	}
	key, err := keys(h)
	if err != nil {
		return nil, &parseError{ReasonBadSignature, fmt.Errorf("not signed by a trusted key: %v", err)}
	}
	if key == nil {
		return nil, &parseError{ReasonBadSignature, fmt.Errorf("not signed by a trusted key: no key for kid %q", h.KeyID)}
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, &parseError{ReasonEdited, fmt.Errorf("content does not match the signature of trusted key %q: modified after signing", h.KeyID)}
	}
	// RFC 8417 Section 2.3: SETs are explicitly typed.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != TokenType && typ != "application/"+TokenType {
		return nil, malformed("typ header is %q, want %q", typ, TokenType)
	}
	var c setClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, malformed("claims are not a SET: %v", err)
	}
	return &c, checkClaims(&c)
}

// checkClaims checks that the claims every record carries are there.
func checkClaims(c *setClaims) error {
	if c.Issuer == "" || c.ID == "" || c.IssuedAt == 0 || c.Events == nil {
		return malformed(`claims lack "iss", "iat", "jti" or "events"`)
	}
	if c.Seq < 1 || c.Prev == "" {
		return malformed(`claims lack the chain claims "seq" and "prev"`)
	}
	return nil
}

func algAllowed(alg jose.SignatureAlgorithm, algs []jose.SignatureAlgorithm) bool {
	if alg == "" || alg == "none" {
		return false
	}
	for _, a := range algs {
		if a == alg {
			return true
		}
	}
	return false
}

// Decode verifies one signed audit SET against keys, with DefaultAlgorithms
// as the allow-list, and returns the Event it records, for display. It does
// not check the token's place in the chain; use Verify for that. An unsigned
// record (one sealed by a later record of its batch) cannot be verified on
// its own: Decode refuses it; a Verifier with Visit set reads it. Data values come
// back as JSON types (numbers are float64).
func Decode(token string, keys KeyFunc) (Event, error) {
	if keys == nil {
		return Event{}, fmt.Errorf("%w: no KeyFunc", ErrInvalidToken)
	}
	if strings.HasPrefix(token, "{") {
		return Event{}, fmt.Errorf("%w: an unsigned record is only sealed by the log's chain; read it with a Verifier (Verifier.Visit)", ErrInvalidToken)
	}
	c, err := parseSigned(token, keys, DefaultAlgorithms)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	e, err := c.event()
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return e, nil
}
