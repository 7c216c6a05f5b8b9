package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/internal/clock"
)

// Prover is the client's side: it makes DPoP proofs (RFC 9449 §4.2) with a private key the client
// keeps. Make one with NewProver; it is safe for concurrent use.
type Prover struct {
	signer jose.Signer
	jkt    string
	// Now is the clock of iat; nil means time.Now.
	Now func() time.Time
}

// NewProver returns a Prover signing with key: ECDSA on P-256, P-384 or P-521 (ES256, ES384, ES512),
// RSA of at least MinRSABits (PS256), or Ed25519 (EdDSA).
func NewProver(key crypto.Signer) (*Prover, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		alg = map[elliptic.Curve]jose.SignatureAlgorithm{elliptic.P256(): jose.ES256, elliptic.P384(): jose.ES384, elliptic.P521(): jose.ES512}[k.Curve]
	case *rsa.PrivateKey:
		if k.N.BitLen() >= MinRSABits {
			alg = jose.PS256
		}
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	}
	if alg == "" {
		return nil, fmt.Errorf("dpop: no proof algorithm for a %T", key)
	}
	public := jose.JSONWebKey{Key: key.Public()}
	jkt, err := Thumbprint(&public)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]interface{}{"jwk": public}}).WithType("dpop+jwt"))
	if err != nil {
		return nil, err
	}
	return &Prover{signer: signer, jkt: jkt}, nil
}

// JKT returns the thumbprint of the Prover's key: what the tokens it gets are bound to.
func (p *Prover) JKT() string { return p.jkt }

// Proof returns a new proof for a request with method to target (its query and fragment are left
// out of htu), with a random 128-bit jti, iat now, ath when accessToken is set, and nonce when set.
func (p *Prover) Proof(method, target, accessToken, nonce string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(jti),
		"htm": method, "htu": u.String(), "iat": clock.Now(p.Now).Unix(),
	}
	if accessToken != "" {
		claims["ath"] = AccessTokenHash(accessToken)
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := p.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Transport returns an http.RoundTripper that adds a proof to every request it sends through base
// (nil: http.DefaultTransport), with ath for an Authorization: DPoP token. When a server answers
// use_dpop_nonce (a 400 token error, or a 401 DPoP challenge) with a DPoP-Nonce header, it retries the
// request once with that nonce, and keeps the latest nonce of each origin for the next requests
// (RFC 9449 §8). Requests whose body cannot be replayed (no GetBody) are not retried.
func (p *Prover) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{prover: p, base: base, nonces: map[string]string{}}
}

type transport struct {
	prover *Prover
	base   http.RoundTripper
	mu     sync.Mutex
	nonces map[string]string // origin → latest nonce
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	origin := r.URL.Scheme + "://" + r.URL.Host
	res, err := t.send(r, origin)
	if err != nil || !nonceError(res) || r.GetBody == nil && r.Body != nil && r.Body != http.NoBody {
		return res, err
	}
	_ = res.Body.Close()
	retry := r.Clone(r.Context())
	if r.GetBody != nil {
		if retry.Body, err = r.GetBody(); err != nil {
			return nil, err
		}
	}
	return t.send(retry, origin)
}

func (t *transport) send(r *http.Request, origin string) (*http.Response, error) {
	token := ""
	if name, value, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(name, TokenType) {
		token = value
	}
	t.mu.Lock()
	nonce := t.nonces[origin]
	t.mu.Unlock()
	proof, err := t.prover.Proof(r.Method, r.URL.String(), token, nonce)
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set(ProofHeader, proof)
	res, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if n := res.Header.Get(NonceHeader); n != "" {
		t.mu.Lock()
		t.nonces[origin] = n
		t.mu.Unlock()
	}
	return res, nil
}

// nonceError reports whether res asks for a nonce and gives one (RFC 9449 §8, §9). It reads a 400's
// body (at most 64 KiB) to find the error code and puts it back.
func nonceError(res *http.Response) bool {
	if res.Header.Get(NonceHeader) == "" {
		return false
	}
	switch res.StatusCode {
	case http.StatusUnauthorized:
		return strings.Contains(res.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`)
	case http.StatusBadRequest:
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return false
		}
		var e struct {
			Error string `json:"error"`
		}
		return json.Unmarshal(body, &e) == nil && e.Error == ErrUseNonce.Error()
	}
	return false
}
