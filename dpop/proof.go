package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
)

// ProofHeader is the request header that carries a DPoP proof (RFC 9449 §4.1).
const ProofHeader = "DPoP"

// TokenType is the token_type of DPoP-bound access tokens (RFC 9449 §5, §12.1) and the
// Authorization scheme they are presented with (§7.1).
const TokenType = "DPoP"

// Limits on what a proof may hold. A proof beyond them is invalid_dpop_proof.
const (
	// MaxProofLength bounds the DPoP header value: 8 KiB holds a proof signed with a 4096-bit RSA key
	// several times over.
	MaxProofLength = 8 << 10
	// MaxJTILength bounds the jti claim (RFC 9449 §4.2 asks for 96 bits of randomness; a UUID or 32
	// base64url characters is typical).
	MaxJTILength = 256
	// MaxHTULength bounds the htu claim.
	MaxHTULength = 2048
	// MinRSABits is the smallest RSA key a proof may be signed with.
	MinRSABits = 2048
)

// DefaultAlgorithms are the JWS algorithms a proof may be signed with unless Options.Algorithms says
// otherwise: every asymmetric signature algorithm go-jose verifies (RFC 7518 §3, RFC 8037 §3.1).
var DefaultAlgorithms = []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA"}

// privateMembers are the JWK members only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2,
// §6.4.1; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Proof is a DPoP proof whose signature verified (RFC 9449 §4.2).
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint (RFC 7638) of the proof's key, base64url-encoded: the value a
	// bound token's cnf.jkt holds (RFC 9449 §6.1).
	JKT string
	// Key is the public key of the jwk header.
	Key *jose.JSONWebKey
	// Algorithm is the JWS algorithm of the signature.
	Algorithm string
	// The claims (RFC 9449 §4.2). ATH and Nonce are empty when the proof has none.
	JTI      string
	Method   string
	URL      string
	IssuedAt time.Time
	ATH      string
	Nonce    string
}

// ParseProof checks everything a proof says about itself (RFC 9449 §4.3 checks 2–7): a compact JWS
// of at most MaxProofLength bytes with a protected header holding typ "dpop+jwt", an alg from algs
// (asymmetric only: "none" and MAC algorithms never pass, whatever algs says) and a jwk that is a
// public key fitting the alg (RSA of at least MinRSABits, an EC curve matching the alg, Ed25519 for
// EdDSA), a signature that verifies with that key, and a JSON object payload holding jti, htm, htu
// and iat of the right types. It does not compare the claims with a request: Verifier.Verify does.
//
// Errors are ErrInvalidProof with a hint that says what is wrong.
func ParseProof(proof string, algs []string) (*Proof, error) {
	if proof == "" {
		return nil, ErrInvalidProof.WithHint("The DPoP proof is empty.")
	}
	if len(proof) > MaxProofLength {
		return nil, ErrInvalidProof.WithHintf("The DPoP proof is longer than %d bytes.", MaxProofLength)
	}
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return nil, ErrInvalidProof.WithHint("The DPoP proof is not a JWT in compact serialization.")
	}
	if err := checkHeader(parts[0], algs); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSigned(proof)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrInvalidProof.WithHint("The DPoP proof is not a valid JWS.").WithDebug(fmt.Sprint(err))
	}
	h := jws.Signatures[0].Protected
	// The checks below read go-jose's parse of the header, which is what the signature is verified
	// against; checkHeader read the same bytes only to tell what is wrong in plain words.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "dpop+jwt") {
		return nil, ErrInvalidProof.WithHint("The DPoP proof's typ header must be 'dpop+jwt'.")
	}
	if !slices.Contains(algs, h.Algorithm) || !asymmetric(h.Algorithm) {
		return nil, algError(h.Algorithm, algs)
	}
	key := h.JSONWebKey
	if key == nil || !key.Valid() || !key.IsPublic() {
		return nil, ErrInvalidProof.WithHint("The DPoP proof's jwk header must be a public key.")
	}
	if err := fits(key, h.Algorithm); err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, ErrInvalidProof.WithHint("The DPoP proof's signature does not verify with its jwk.")
	}
	p := &Proof{Key: key, Algorithm: h.Algorithm}
	if err := p.readClaims(payload); err != nil {
		return nil, err
	}
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, ErrInvalidProof.WithHint("The DPoP proof's jwk header must be a public key.").WithDebug(err.Error())
	}
	p.JKT = base64.RawURLEncoding.EncodeToString(sum)
	return p, nil
}

// checkHeader reads the protected header before go-jose does, to name what is wrong: go-jose refuses
// a private jwk, for one, with a message about the JWS rather than the key.
func checkHeader(segment string, algs []string) error {
	raw, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return ErrInvalidProof.WithHint("The DPoP proof's header is not base64url.")
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return ErrInvalidProof.WithHint("The DPoP proof's header is not a JSON object.")
	}
	var typ, alg string
	if json.Unmarshal(h["typ"], &typ) != nil || !strings.EqualFold(typ, "dpop+jwt") {
		return ErrInvalidProof.WithHint("The DPoP proof's typ header must be 'dpop+jwt'.")
	}
	if json.Unmarshal(h["alg"], &alg) != nil || !slices.Contains(algs, alg) || !asymmetric(alg) {
		return algError(alg, algs)
	}
	if _, ok := h["crit"]; ok {
		return ErrInvalidProof.WithHint("The DPoP proof must not have critical header parameters.")
	}
	if _, ok := h["b64"]; ok {
		return ErrInvalidProof.WithHint("The DPoP proof must not have a b64 header parameter.")
	}
	var jwk map[string]json.RawMessage
	if err := json.Unmarshal(h["jwk"], &jwk); err != nil || jwk == nil {
		return ErrInvalidProof.WithHint("The DPoP proof's jwk header is missing or not a JSON object.")
	}
	for _, m := range privateMembers {
		if _, ok := jwk[m]; ok {
			// §4.3 check 7: "the jwk JOSE Header Parameter does not contain a private key".
			return ErrInvalidProof.WithHintf("The DPoP proof's jwk header must be a public key; it holds the private or symmetric key member '%s'.", m)
		}
	}
	return nil
}

// asymmetric reports whether alg is a JWS signature algorithm with a public verification key: never
// "none" and never a MAC (RFC 9449 §4.3 check 5).
func asymmetric(alg string) bool {
	switch jose.SignatureAlgorithm(alg) {
	case jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.RS384, jose.RS512, jose.EdDSA:
		return true
	}
	return false
}

func algError(alg string, algs []string) error {
	if alg == "" {
		return ErrInvalidProof.WithHint("The DPoP proof's alg header is missing.")
	}
	return ErrInvalidProof.WithHintf("The DPoP proof's alg '%s' is not accepted; use an asymmetric algorithm of: %s.", printable(alg), strings.Join(algs, " "))
}

// printable keeps an attacker's value fit for an error description: at most 32 characters, printable
// ASCII other than quotation mark and backslash.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 32; i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fits checks that key can make signatures of alg, and is strong enough.
func fits(key *jose.JSONWebKey, alg string) error {
	bad := ErrInvalidProof.WithHintf("The DPoP proof's jwk is not a key for the alg '%s'.", alg)
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			return bad
		}
		if k.N.BitLen() < MinRSABits {
			return ErrInvalidProof.WithHintf("The DPoP proof's RSA key is shorter than %d bits.", MinRSABits)
		}
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil || k.Curve != want {
			return bad
		}
	case ed25519.PublicKey:
		if alg != string(jose.EdDSA) {
			return bad
		}
	default:
		return bad
	}
	return nil
}

// readClaims decodes the payload (RFC 9449 §4.2): jti, htm, htu and iat are required, ath and nonce
// optional; each must have its JSON type.
func (p *Proof) readClaims(payload []byte) error {
	var c map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil || c == nil || dec.More() {
		return ErrInvalidProof.WithHint("The DPoP proof's payload is not a JSON object.")
	}
	str := func(name string, required bool, max int) (string, error) {
		raw, ok := c[name]
		if !ok {
			if required {
				return "", ErrInvalidProof.WithHintf("The DPoP proof lacks the '%s' claim.", name)
			}
			return "", nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil || (required && s == "") {
			return "", ErrInvalidProof.WithHintf("The DPoP proof's '%s' claim must be a non-empty string.", name)
		}
		if len(s) > max {
			return "", ErrInvalidProof.WithHintf("The DPoP proof's '%s' claim is longer than %d bytes.", name, max)
		}
		return s, nil
	}
	var err error
	if p.JTI, err = str("jti", true, MaxJTILength); err != nil {
		return err
	}
	if p.Method, err = str("htm", true, 32); err != nil {
		return err
	}
	if p.URL, err = str("htu", true, MaxHTULength); err != nil {
		return err
	}
	if p.ATH, err = str("ath", false, 128); err != nil {
		return err
	}
	if p.Nonce, err = str("nonce", false, 512); err != nil {
		return err
	}
	raw, ok := c["iat"]
	if !ok {
		return ErrInvalidProof.WithHint("The DPoP proof lacks the 'iat' claim.")
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return ErrInvalidProof.WithHint("The DPoP proof's 'iat' claim must be a number.")
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return ErrInvalidProof.WithHint("The DPoP proof's 'iat' claim must be a number of seconds since 1970.")
	}
	sec, frac := math.Modf(f)
	p.IssuedAt = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// AccessTokenHash is the ath of a proof sent with accessToken (RFC 9449 §4.2): the base64url-encoded
// SHA-256 hash of its ASCII characters.
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Thumbprint returns the JWK SHA-256 thumbprint of key (RFC 7638), base64url-encoded, as cnf.jkt and
// dpop_jkt hold it (RFC 9449 §6.1, §10).
func Thumbprint(key *jose.JSONWebKey) (string, error) {
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// ProofOf returns the DPoP proof of r: "" when r has no DPoP header, and ErrInvalidProof when it has
// more than one (RFC 9449 §4.3 check 1).
func ProofOf(r *http.Request) (string, error) {
	v := r.Header.Values(ProofHeader)
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", ErrInvalidProof.WithHint("The request carries more than one DPoP header.")
}

// sameHash compares an ath claim with the expected hash.
func sameHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
