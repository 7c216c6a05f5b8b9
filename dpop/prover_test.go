package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
)

// prover makes DPoP proofs the way a client does, with go-jose: a key pair, its public JWK in the
// header, and the claims of RFC 9449 §4.2.
type prover struct {
	t   testing.TB
	key crypto.Signer
	alg jose.SignatureAlgorithm
	jwk jose.JSONWebKey
	jkt string
}

func newProver(t testing.TB, alg jose.SignatureAlgorithm) *prover {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.PS256, jose.RS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	require.NoError(t, err)
	return proverFor(t, key, alg)
}

func proverFor(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm) *prover {
	t.Helper()
	jwk := jose.JSONWebKey{Key: key.Public()}
	jkt, err := dpop.Thumbprint(&jwk)
	require.NoError(t, err)
	return &prover{t: t, key: key, alg: alg, jwk: jwk, jkt: jkt}
}

// claims are the claims of a fresh proof for method and url at now.
func claims(method, url string, now time.Time) map[string]any {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return map[string]any{"jti": base64.RawURLEncoding.EncodeToString(b), "htm": method, "htu": url, "iat": now.Unix()}
}

// sign signs claims with extra header members (which replace the defaults: typ dpop+jwt and the
// public jwk).
func (p *prover) sign(c map[string]any, header map[jose.HeaderKey]any) string {
	p.t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]interface{}{"typ": "dpop+jwt", "jwk": p.jwk}}
	for k, v := range header {
		if v == nil {
			delete(opts.ExtraHeaders, k)
		} else {
			opts.ExtraHeaders[k] = v
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: p.alg, Key: p.key}, opts)
	require.NoError(p.t, err)
	payload, err := json.Marshal(c)
	require.NoError(p.t, err)
	jws, err := signer.Sign(payload)
	require.NoError(p.t, err)
	out, err := jws.CompactSerialize()
	require.NoError(p.t, err)
	return out
}

// proof is a valid proof for method and url at now.
func (p *prover) proof(method, url string, now time.Time) string {
	return p.sign(claims(method, url, now), nil)
}

// unsigned builds a compact JWS with header and claims and the signature given, for the proofs no
// well-behaved library makes (alg none).
func unsigned(t testing.TB, header, c map[string]any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(b) + "." + sig
}

// curveMismatch is a proof whose header says ES256 but whose jwk, and signature, are of a P-384 key
// (go-jose refuses to make one), signed by hand over SHA-256.
func curveMismatch(t testing.TB, key *ecdsa.PrivateKey, c map[string]any) string {
	t.Helper()
	input := strings.TrimSuffix(unsigned(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jose.JSONWebKey{Key: key.Public()}}, c, ""), ".")
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	require.NoError(t, err)
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
