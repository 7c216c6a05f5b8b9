package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Defaults of Options.
const (
	// DefaultMaxAge is how long after its iat a proof is accepted (RFC 9449 §4.3 check 11, §11.1).
	DefaultMaxAge = time.Minute
	// DefaultMaxSkew is how far ahead of the server's clock a proof's iat may be (a client's clock
	// that runs fast).
	DefaultMaxSkew = 30 * time.Second
)

// ReplayStorage remembers the jti of each accepted proof until the proof would expire, so that a
// proof is accepted once (RFC 9449 §11.1) on every server instance sharing the store. It is
// pending.IndexStorage's UseOnce, which the memory and SQL stores of this module implement: of any
// number of calls with the same key before expiresAt exactly one returns nil and the others
// pending.ErrStateChanged.
type ReplayStorage interface {
	UseOnce(ctx context.Context, key string, expiresAt, now time.Time) error
}

// Options configure a Verifier. The zero value of each field means its default.
type Options struct {
	// Algorithms are the JWS algorithms proofs may be signed with; only asymmetric ones are accepted.
	// Nil means DefaultAlgorithms.
	Algorithms []string
	// MaxAge is how long after its iat a proof is accepted; zero means DefaultMaxAge (1 minute).
	MaxAge time.Duration
	// MaxSkew is how far in the future a proof's iat may be; zero means DefaultMaxSkew (30 seconds).
	MaxSkew time.Duration
	// RequireNonce makes every proof carry a nonce this server issued (RFC 9449 §8): a proof without
	// one, or with one that is unknown or expired, gets use_dpop_nonce with a fresh nonce. A proof
	// with a valid nonce is judged by the nonce's age rather than its iat (§4.3 check 11), so a client
	// whose clock is wrong still gets in. Off by default.
	RequireNonce bool
	// Nonces makes and checks the nonces when RequireNonce is set; nil means HMACNonces keyed by the
	// secret given to NewVerifier, with NonceLifetime.
	Nonces Nonces
	// NonceLifetime is how long a default nonce is accepted, and, with a Nonces of your own, how long
	// the jti of a proof judged by its nonce is remembered (make it at least your nonces' lifetime);
	// zero means DefaultNonceLifetime (5 minutes).
	NonceLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks DPoP proofs against the request they came with (RFC 9449 §4.3) and keeps each one
// single-use. Make one with NewVerifier; it is safe for concurrent use.
type Verifier struct {
	store  ReplayStorage
	opts   Options
	nonces Nonces
}

// NewVerifier returns a Verifier that remembers used proofs in store. secret (at least 32 bytes, such
// as fosite's global secret) keys the default nonces; it is needed only when opts.RequireNonce is set
// and opts.Nonces is nil.
func NewVerifier(store ReplayStorage, secret []byte, opts Options) (*Verifier, error) {
	if store == nil {
		return nil, errors.New("dpop: a replay store is required")
	}
	if opts.Algorithms == nil {
		opts.Algorithms = DefaultAlgorithms
	}
	var algs []string
	for _, a := range opts.Algorithms {
		if !asymmetric(a) {
			return nil, fmt.Errorf("dpop: %q is not an asymmetric JWS signature algorithm", a)
		}
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		return nil, errors.New("dpop: no proof algorithm is allowed")
	}
	opts.Algorithms = algs
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	v := &Verifier{store: store, opts: opts}
	if opts.RequireNonce {
		v.nonces = opts.Nonces
		if v.nonces == nil {
			n, err := NewHMACNonces(secret, opts.NonceLifetime, opts.Now)
			if err != nil {
				return nil, err
			}
			v.nonces = n
		}
	}
	return v, nil
}

// Algorithms returns the JWS algorithms proofs may be signed with, for dpop_signing_alg_values_supported
// (RFC 9449 §5.1) and the algs parameter of a DPoP challenge (§7.1).
func (v *Verifier) Algorithms() []string { return slices.Clone(v.opts.Algorithms) }

// Target is the request a proof must have been made for (RFC 9449 §4.3 checks 8, 9 and 12).
type Target struct {
	// Method is the request's HTTP method (htm).
	Method string
	// URLs are the URLs this endpoint is published at; the proof's htu must name one of them. Use
	// configured URLs, not the Host header of the request, which the client chooses.
	URLs []string
	// AccessToken is the access token presented with the proof at a protected resource; the proof's
	// ath must be its hash. Empty at the token endpoint, where ath is ignored.
	AccessToken string
}

// Verify checks proof for t (RFC 9449 §4.3): everything ParseProof checks; htm equal to t.Method; htu,
// without query and fragment and normalised (RFC 3986 §6.2.2, §6.2.3), equal to one of t.URLs; ath when
// t.AccessToken is set; a nonce this server issued when nonces are required; the time window; and,
// last, that no proof with this key and jti was accepted before (recorded in the replay store until the
// proof would expire).
//
// Errors: ErrInvalidProof with a hint; ErrUseNonce carrying a fresh nonce (see SetNonceHeader);
// server_error when the store fails.
func (v *Verifier) Verify(ctx context.Context, proof string, t Target) (*Proof, error) {
	p, err := ParseProof(proof, v.opts.Algorithms)
	if err != nil {
		return nil, err
	}
	if p.Method != t.Method {
		return nil, ErrInvalidProof.WithHint("The DPoP proof's htm claim does not match the request's method.")
	}
	if !matchesAny(p.URL, t.URLs) {
		return nil, ErrInvalidProof.WithHint("The DPoP proof's htu claim does not match the URL of this endpoint.")
	}
	if t.AccessToken != "" {
		if p.ATH == "" {
			return nil, ErrInvalidProof.WithHint("The DPoP proof lacks the 'ath' claim, the hash of the access token it is sent with.")
		}
		if !sameHash(p.ATH, AccessTokenHash(t.AccessToken)) {
			return nil, ErrInvalidProof.WithHint("The DPoP proof's ath claim does not match the access token.")
		}
	}
	now := clock.Now(v.opts.Now)
	var expires time.Time
	if v.nonces != nil {
		issued, err := v.checkNonce(ctx, p.Nonce, now)
		if err != nil {
			return nil, err
		}
		// §4.3 check 11: the proof's creation time, "as determined by ... a server managed timestamp via
		// the nonce claim", is within the window: the nonce's.
		expires = issued.Add(v.nonceLifetime())
	} else {
		if p.IssuedAt.After(now.Add(v.opts.MaxSkew)) {
			return nil, ErrInvalidProof.WithHint("The DPoP proof's iat claim is in the future; check the client's clock.")
		}
		expires = p.IssuedAt.Add(v.opts.MaxAge)
		if !now.Before(expires) {
			return nil, ErrInvalidProof.WithHintf("The DPoP proof's iat claim is more than %d seconds old; make a new proof for each request.", int(v.opts.MaxAge/time.Second))
		}
	}
	// §11.1: the jti of a proof with this key is remembered for as long as the proof is acceptable.
	sum := sha256.Sum256([]byte(p.JKT + "|" + p.JTI))
	key := "dpop-jti|" + base64.RawURLEncoding.EncodeToString(sum[:])
	switch err := v.store.UseOnce(ctx, key, expires, now); {
	case errors.Is(err, pending.ErrStateChanged):
		return nil, ErrInvalidProof.WithHint("The DPoP proof was already used; make a new proof, with a new jti, for each request.")
	case err != nil:
		return nil, rfc6749.ServerError(err)
	}
	return p, nil
}

func (v *Verifier) nonceLifetime() time.Duration {
	if h, ok := v.nonces.(*HMACNonces); ok {
		return h.lifetime()
	}
	if v.opts.NonceLifetime > 0 {
		return v.opts.NonceLifetime
	}
	return DefaultNonceLifetime
}

// checkNonce returns when nonce was issued, or use_dpop_nonce with a fresh one.
func (v *Verifier) checkNonce(ctx context.Context, nonce string, now time.Time) (time.Time, error) {
	if nonce != "" {
		if issued, err := v.nonces.CheckNonce(ctx, nonce, now); err == nil {
			return issued, nil
		}
	}
	fresh, err := v.nonces.NewNonce(ctx)
	if err != nil {
		return time.Time{}, rfc6749.ServerError(err)
	}
	hint := "The DPoP proof lacks the nonce the server requires."
	if nonce != "" {
		hint = "The DPoP proof's nonce is unknown or has expired."
	}
	return time.Time{}, ErrUseNonce.WithWrap(&nonceChallenge{nonce: fresh}).WithHint(hint)
}

// NewNonce returns a fresh nonce when nonces are required, "" otherwise: a server may send one in a
// DPoP-Nonce header with any response (RFC 9449 §8.2).
func (v *Verifier) NewNonce(ctx context.Context) (string, error) {
	if v.nonces == nil {
		return "", nil
	}
	return v.nonces.NewNonce(ctx)
}

// matchesAny reports whether htu names one of urls once both are normalised.
func matchesAny(htu string, urls []string) bool {
	got, ok := NormalizeURL(htu)
	if !ok {
		return false
	}
	for _, u := range urls {
		if want, ok := NormalizeURL(u); ok && got == want {
			return true
		}
	}
	return false
}

// NormalizeURL returns the form of an absolute http(s) URL that RFC 9449 §4.3 compares htu in: query
// and fragment dropped (check 9); scheme and host in lower case, the scheme's default port removed and
// an empty path made "/" (RFC 3986 §6.2.3); percent-encodings in upper case, those of unreserved
// characters decoded, and dot segments removed (§6.2.2). ok is false for anything else (a relative
// URL, another scheme, user information).
func NormalizeURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host = u.Host[:len(u.Host)-len(port)-1]
		host = strings.ToLower(host) + ":" + port
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal without its port
	}
	path, ok := normalizePath(u.EscapedPath())
	if !ok {
		return "", false
	}
	return scheme + "://" + host + path, true
}

// normalizePath upper-cases percent-encodings, decodes those of unreserved characters (RFC 3986 §2.3,
// §6.2.2.2), and removes dot segments (§5.2.4, §6.2.2.3). An empty path is "/" (§6.2.3).
func normalizePath(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
		}
		i += 2
	}
	out := removeDotSegments(b.String())
	if out == "" {
		out = "/"
	}
	return out, true
}

// removeDotSegments is RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	var out []string
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := strings.IndexByte(in[start:], '/')
			if end < 0 {
				end = len(in)
			} else {
				end += start
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
