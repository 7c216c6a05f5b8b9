package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/memory"
)

const tokenURL = "https://as.example/oauth2/token"

var secret = []byte("a-global-secret-of-32-bytes-long")

// fakeClock is an injected clock tests move instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func newVerifier(t testing.TB, c *fakeClock, opts dpop.Options) *dpop.Verifier {
	t.Helper()
	opts.Now = c.Now
	v, err := dpop.NewVerifier(memory.New(), secret, opts)
	require.NoError(t, err)
	return v
}

// requireError asserts err is want with exactly that hint (the text after the description).
func requireError(t *testing.T, err error, want *pending.Error, hint string) {
	t.Helper()
	require.ErrorIs(t, err, want)
	require.Equal(t, hint, fosite.ErrorToRFC6749Error(err).HintField)
}

var post = dpop.Target{Method: http.MethodPost, URLs: []string{tokenURL}}

// TestVerifyAccepts: proofs of every default algorithm, and the forms of htu that RFC 9449 §4.3 says
// match (query and fragment ignored, syntax- and scheme-based normalisation).
func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	c := newClock()
	v := newVerifier(t, c, dpop.Options{})
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.PS256, jose.RS256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			p := newProver(t, alg)
			got, err := v.Verify(context.Background(), p.proof(http.MethodPost, tokenURL, c.Now()), post)
			require.NoError(t, err)
			require.Equal(t, p.jkt, got.JKT)
			require.Equal(t, string(alg), got.Algorithm)
		})
	}
	p := newProver(t, jose.ES256)
	for _, htu := range []string{
		tokenURL + "?x=1#frag",
		"HTTPS://AS.Example:443/oauth2/token",
		"https://as.example/oauth2/./x/../token",
		"https://as.example/%6Fauth2/token",
	} {
		_, err := v.Verify(context.Background(), p.proof(http.MethodPost, htu, c.Now()), post)
		require.NoError(t, err, htu)
	}
	_, err := v.Verify(context.Background(), p.sign(claims(http.MethodPost, tokenURL, c.Now().Add(29*time.Second)), nil), post)
	require.NoError(t, err, "a clock up to 30 seconds fast")
	_, err = v.Verify(context.Background(), p.sign(claims(http.MethodPost, tokenURL, c.Now().Add(-59*time.Second)), nil), post)
	require.NoError(t, err, "a proof up to a minute old")
	_, err = v.Verify(context.Background(), p.sign(claims(http.MethodPost, tokenURL, c.Now()), map[jose.HeaderKey]any{"typ": "DPoP+JWT"}), post)
	require.NoError(t, err, "media types compare without case (RFC 7515 section 4.1.9)")
}

// TestVerifyRefuses: each way a proof can be bad (RFC 9449 §4.3) gets invalid_dpop_proof and says
// which.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	c := newClock()
	now := c.Now()
	p := newProver(t, jose.ES256)
	other := newProver(t, jose.ES256)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	good := func() map[string]any { return claims(http.MethodPost, tokenURL, now) }
	without := func(name string) map[string]any { c := good(); delete(c, name); return c }
	with := func(name string, v any) map[string]any { c := good(); c[name] = v; return c }
	publicHeader := map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": p.jwk}
	privateJWK := jose.JSONWebKey{Key: p.key}

	hs256 := func() string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey},
			(&jose.SignerOptions{}).WithType("dpop+jwt").WithHeader("jwk", map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(hmacKey)}))
		require.NoError(t, err)
		jws, err := signer.Sign([]byte(`{"jti":"x","htm":"POST","htu":"` + tokenURL + `","iat":` + itoa(now.Unix()) + `}`))
		require.NoError(t, err)
		s, err := jws.CompactSerialize()
		require.NoError(t, err)
		return s
	}

	const algs = "ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA"
	for _, tc := range []struct {
		name   string
		proof  string
		target dpop.Target
		hint   string
	}{
		{"empty", "", post, "The DPoP proof is empty."},
		{"not a JWT", "not-a-jwt", post, "The DPoP proof is not a JWT in compact serialization."},
		{"JWS JSON serialization", `{"payload":"e30","signatures":[]}`, post, "The DPoP proof is not a JWT in compact serialization."},
		{"too long", strings.Repeat("a", dpop.MaxProofLength+1), post, "The DPoP proof is longer than 8192 bytes."},
		{"header not base64url", "!!.e30.AA", post, "The DPoP proof's header is not base64url."},
		{"header not JSON", "bm90IGpzb24.e30.AA", post, "The DPoP proof's header is not a JSON object."},
		{"typ missing", p.sign(good(), map[jose.HeaderKey]any{"typ": nil}), post, "The DPoP proof's typ header must be 'dpop+jwt'."},
		{"typ JWT", p.sign(good(), map[jose.HeaderKey]any{"typ": "JWT"}), post, "The DPoP proof's typ header must be 'dpop+jwt'."},
		{"alg none", unsigned(t, publicHeader, good(), ""), post, "The DPoP proof's alg 'none' is not accepted; use an asymmetric algorithm of: " + algs + "."},
		{"symmetric alg HS256", hs256(), post, "The DPoP proof's alg 'HS256' is not accepted; use an asymmetric algorithm of: " + algs + "."},
		{"jwk missing", p.sign(good(), map[jose.HeaderKey]any{"jwk": nil}), post, "The DPoP proof's jwk header is missing or not a JSON object."},
		{"private key in jwk", p.sign(good(), map[jose.HeaderKey]any{"jwk": privateJWK}), post, "The DPoP proof's jwk header must be a public key; it holds the private or symmetric key member 'd'."},
		{"symmetric key in jwk", p.sign(good(), map[jose.HeaderKey]any{"jwk": map[string]string{"kty": "oct", "k": "AAAA"}}), post, "The DPoP proof's jwk header must be a public key; it holds the private or symmetric key member 'k'."},
		{"jwk of another key type than alg", p.sign(good(), map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: rsaKey.Public()}}), post, "The DPoP proof's jwk is not a key for the alg 'ES256'."},
		{"ES256 with a P-384 key", curveMismatch(t, p384, good()), post, "The DPoP proof's jwk is not a key for the alg 'ES256'."},
		{"RSA key shorter than 2048 bits", proverFor(t, small, jose.PS256).proof(http.MethodPost, tokenURL, now), post, "The DPoP proof's RSA key is shorter than 2048 bits."},
		{"signed by another key than its jwk", other.sign(good(), map[jose.HeaderKey]any{"jwk": p.jwk}), post, "The DPoP proof's signature does not verify with its jwk."},
		{"critical header", p.sign(good(), map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}), post, "The DPoP proof must not have critical header parameters."},
		{"payload not an object", p.sign(nil, nil), post, "The DPoP proof's payload is not a JSON object."},
		{"jti missing", p.sign(without("jti"), nil), post, "The DPoP proof lacks the 'jti' claim."},
		{"htm missing", p.sign(without("htm"), nil), post, "The DPoP proof lacks the 'htm' claim."},
		{"htu missing", p.sign(without("htu"), nil), post, "The DPoP proof lacks the 'htu' claim."},
		{"iat missing", p.sign(without("iat"), nil), post, "The DPoP proof lacks the 'iat' claim."},
		{"jti a number", p.sign(with("jti", 7), nil), post, "The DPoP proof's 'jti' claim must be a non-empty string."},
		{"jti empty", p.sign(with("jti", ""), nil), post, "The DPoP proof's 'jti' claim must be a non-empty string."},
		{"jti too long", p.sign(with("jti", strings.Repeat("j", 257)), nil), post, "The DPoP proof's 'jti' claim is longer than 256 bytes."},
		{"iat a string", p.sign(with("iat", "now"), nil), post, "The DPoP proof's 'iat' claim must be a number."},
		{"iat negative", p.sign(with("iat", -1), nil), post, "The DPoP proof's 'iat' claim must be a number of seconds since 1970."},
		{"wrong method", p.proof(http.MethodGet, tokenURL, now), post, "The DPoP proof's htm claim does not match the request's method."},
		{"method in lower case", p.proof("post", tokenURL, now), post, "The DPoP proof's htm claim does not match the request's method."},
		{"wrong URL: path", p.proof(http.MethodPost, "https://as.example/oauth2/introspect", now), post, "The DPoP proof's htu claim does not match the URL of this endpoint."},
		{"wrong URL: host", p.proof(http.MethodPost, "https://evil.example/oauth2/token", now), post, "The DPoP proof's htu claim does not match the URL of this endpoint."},
		{"wrong URL: scheme", p.proof(http.MethodPost, "http://as.example/oauth2/token", now), post, "The DPoP proof's htu claim does not match the URL of this endpoint."},
		{"wrong URL: port", p.proof(http.MethodPost, "https://as.example:8443/oauth2/token", now), post, "The DPoP proof's htu claim does not match the URL of this endpoint."},
		{"wrong URL: relative", p.proof(http.MethodPost, "/oauth2/token", now), post, "The DPoP proof's htu claim does not match the URL of this endpoint."},
		{"stale iat", p.sign(claims(http.MethodPost, tokenURL, now.Add(-61*time.Second)), nil), post, "The DPoP proof's iat claim is more than 60 seconds old; make a new proof for each request."},
		{"iat in the future", p.sign(claims(http.MethodPost, tokenURL, now.Add(31*time.Second)), nil), post, "The DPoP proof's iat claim is in the future; check the client's clock."},
		{"ath missing at a resource", p.proof(http.MethodGet, "https://rs.example/api", now), dpop.Target{Method: "GET", URLs: []string{"https://rs.example/api"}, AccessToken: "tok"}, "The DPoP proof lacks the 'ath' claim, the hash of the access token it is sent with."},
		{"ath of another token", p.sign(map[string]any{"jti": "a", "htm": "GET", "htu": "https://rs.example/api", "iat": now.Unix(), "ath": dpop.AccessTokenHash("other")}, nil), dpop.Target{Method: "GET", URLs: []string{"https://rs.example/api"}, AccessToken: "tok"}, "The DPoP proof's ath claim does not match the access token."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, c, dpop.Options{})
			got, err := v.Verify(context.Background(), tc.proof, tc.target)
			require.Nil(t, got)
			requireError(t, err, dpop.ErrInvalidProof, tc.hint)
			require.Equal(t, http.StatusBadRequest, fosite.ErrorToRFC6749Error(err).CodeField)
		})
	}

	t.Run("alg outside the server's list", func(t *testing.T) {
		t.Parallel()
		v := newVerifier(t, c, dpop.Options{Algorithms: []string{"ES256"}})
		_, err := v.Verify(context.Background(), newProver(t, jose.PS256).proof(http.MethodPost, tokenURL, now), post)
		requireError(t, err, dpop.ErrInvalidProof, "The DPoP proof's alg 'PS256' is not accepted; use an asymmetric algorithm of: ES256.")
	})
}

// TestVerifyReplay: a proof is accepted once, on every verifier sharing the store (RFC 9449 §11.1);
// the same jti with another key is another proof.
func TestVerifyReplay(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := memory.New()
	a, err := dpop.NewVerifier(store, nil, dpop.Options{Now: c.Now})
	require.NoError(t, err)
	b, err := dpop.NewVerifier(store, nil, dpop.Options{Now: c.Now})
	require.NoError(t, err)
	p, q := newProver(t, jose.ES256), newProver(t, jose.ES256)
	cl := claims(http.MethodPost, tokenURL, c.Now())
	proof := p.sign(cl, nil)
	_, err = a.Verify(context.Background(), proof, post)
	require.NoError(t, err)
	for _, v := range []*dpop.Verifier{a, b} {
		_, err = v.Verify(context.Background(), proof, post)
		requireError(t, err, dpop.ErrInvalidProof, "The DPoP proof was already used; make a new proof, with a new jti, for each request.")
	}
	_, err = b.Verify(context.Background(), q.sign(cl, nil), post)
	require.NoError(t, err, "the same jti by another key")

	// Of concurrent uses of one proof exactly one is accepted.
	proof = p.proof(http.MethodPost, tokenURL, c.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Verify(context.Background(), proof, post); err == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, accepted)
}

// TestVerifyNonces: with nonces required (RFC 9449 §8) a proof without one, or with one the server did
// not issue or that expired, gets use_dpop_nonce carrying a fresh nonce; a proof with a valid nonce is
// judged by the nonce's age, not its iat.
func TestVerifyNonces(t *testing.T) {
	t.Parallel()
	c := newClock()
	v := newVerifier(t, c, dpop.Options{RequireNonce: true})
	p := newProver(t, jose.ES256)

	_, err := v.Verify(context.Background(), p.proof(http.MethodPost, tokenURL, c.Now()), post)
	requireError(t, err, dpop.ErrUseNonce, "The DPoP proof lacks the nonce the server requires.")
	nonce := dpop.NonceOf(err)
	require.Len(t, nonce, 32)
	h := http.Header{}
	require.True(t, dpop.SetNonceHeader(h, err))
	require.Equal(t, nonce, h.Get("DPoP-Nonce"))
	require.False(t, dpop.SetNonceHeader(http.Header{}, dpop.ErrInvalidProof.WithHint("x")))

	withNonce := func(n string, iat time.Time) string {
		cl := claims(http.MethodPost, tokenURL, iat)
		cl["nonce"] = n
		return p.sign(cl, nil)
	}
	_, err = v.Verify(context.Background(), withNonce(nonce, c.Now()), post)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), withNonce(nonce, c.Now().Add(-10*time.Minute)), post)
	require.NoError(t, err, "a client with a wrong clock gets in with the server's nonce")

	forged := []byte(nonce)
	forged[31] ^= 1
	_, err = v.Verify(context.Background(), withNonce(string(forged), c.Now()), post)
	requireError(t, err, dpop.ErrUseNonce, "The DPoP proof's nonce is unknown or has expired.")
	other, err := dpop.NewHMACNonces([]byte("another-secret-of-at-least-32-bytes"), 0, c.Now)
	require.NoError(t, err)
	foreign, err := other.NewNonce(context.Background())
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), withNonce(foreign, c.Now()), post)
	requireError(t, err, dpop.ErrUseNonce, "The DPoP proof's nonce is unknown or has expired.")

	c.Add(dpop.DefaultNonceLifetime)
	_, err = v.Verify(context.Background(), withNonce(nonce, c.Now()), post)
	requireError(t, err, dpop.ErrUseNonce, "The DPoP proof's nonce is unknown or has expired.")
	require.NotEqual(t, nonce, dpop.NonceOf(err), "a fresh nonce")
}

func TestNewVerifierRefusesSymmetricAlgorithms(t *testing.T) {
	t.Parallel()
	for _, algs := range [][]string{{"HS256"}, {"none"}, {"ES256", "HS512"}, {}} {
		_, err := dpop.NewVerifier(memory.New(), secret, dpop.Options{Algorithms: algs})
		require.Error(t, err, "%v", algs)
	}
	_, err := dpop.NewVerifier(memory.New(), []byte("short"), dpop.Options{RequireNonce: true})
	require.Error(t, err, "nonces need a 32-byte secret")
	_, err = dpop.NewVerifier(nil, secret, dpop.Options{})
	require.Error(t, err)
}

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://as.example/oauth2/token":           "https://as.example/oauth2/token",
		"HTTPS://AS.EXAMPLE:443/oauth2/token?a=b#c": "https://as.example/oauth2/token",
		"http://as.example:80":                      "http://as.example/",
		"http://as.example:8080/a/b/../c/./d":       "http://as.example:8080/a/c/d",
		"http://[::1]:8080/x":                       "http://[::1]:8080/x",
		"http://[::1]:80/x":                         "http://[::1]/x",
		"https://as.example/a%7eb%2fc%2Fd":          "https://as.example/a~b%2Fc%2Fd",
	} {
		got, ok := dpop.NormalizeURL(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "/relative", "ftp://as.example/", "https://user@as.example/", "mailto:x@y", "https://as.example/%zz"} {
		_, ok := dpop.NormalizeURL(in)
		require.False(t, ok, in)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
