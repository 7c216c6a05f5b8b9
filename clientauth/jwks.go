package clientauth

import (
	"container/list"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/fosite-contrib/grants/outbound"
)

// Limits of JWKSFetcher, used when its fields are zero.
const (
	// DefaultJWKSMaxBytes bounds one key set document.
	DefaultJWKSMaxBytes = 64 << 10
	// DefaultJWKSTimeout bounds one fetch, from the first dial to the last byte.
	DefaultJWKSTimeout = 5 * time.Second
	// DefaultJWKSMinRefetchInterval is the least time between two fetches of one URI.
	DefaultJWKSMinRefetchInterval = 30 * time.Second
	// DefaultJWKSTTL is how long a fetched key set is used before it is fetched again.
	DefaultJWKSTTL = time.Hour
	// DefaultJWKSMaxEntries bounds the number of URIs cached.
	DefaultJWKSMaxEntries = 1000
	// DefaultJWKSMaxCacheBytes bounds the cache: the sum of the cached documents' sizes.
	DefaultJWKSMaxCacheBytes = 8 << 20
	// MaxJWKSKeys is the most keys a key set may hold (it is not configurable).
	MaxJWKSKeys = 100
	// minRSABits is the smallest RSA modulus used, as package registration requires of "jwks".
	minRSABits = 2048
)

// errJWKSUnavailable and errNoMatchingKey are the causes of JWKSFetcher's errors.
var (
	errJWKSUnavailable = errors.New("clientauth: the key set at jwks_uri could not be used")
	errNoMatchingKey   = errors.New("clientauth: no key of the key set at jwks_uri matched, and it was fetched too recently to fetch again")
)

// JWKSFetcher is a fosite.JWKSFetcherStrategy for the key sets clients publish at their jwks_uri
// (RFC 7591 §2), used by private_key_jwt client authentication (RFC 7523 §2.2, fosite's
// DefaultClientAuthenticationStrategy) and CIBA signed authentication requests. Set it as
// fosite.Config.JWKSFetcherStrategy:
//
//	cfg := &fosite.Config{JWKSFetcherStrategy: &clientauth.JWKSFetcher{}}
//
// Unlike fosite's default fetcher it
//
//   - fetches through outbound.NewClient: the address connected to must be public, https only,
//     no redirects, no proxy from the environment, one attempt (no retries), bounded by Timeout;
//   - reads at most MaxBytes: a larger document is an error, and the connection is closed there;
//   - fetches each URI at most once per MinRefetchInterval, whether the fetch succeeded or failed,
//     even when fosite asks to bypass the cache (ignoreCache=true) because no key matched the
//     assertion's "kid": a flood of assertions with unknown key IDs costs at most one fetch per
//     interval. Concurrent requests for one URI share one fetch;
//   - answers every failure as invalid_client (RFC 6749 §5.2, HTTP 401), with a hint that says
//     nothing about the network (so a client cannot probe ports through its jwks_uri): fosite
//     returns a key function's error as it is, so this is what the token endpoint and every
//     endpoint that authenticates clients with fosite's AuthenticateClient answer.
//
// # Resolve and ignoreCache
//
// fosite calls Resolve(ignoreCache=false), and when no key of the set matches the assertion, again
// with ignoreCache=true. A set younger than TTL answers the first call. The second call fetches
// again only if the URI was last fetched (or tried) at least MinRefetchInterval ago; otherwise, and
// also when the new document is the same as the one the caller already had, it answers
// invalid_client at once, since the same keys would fail the same way.
//
// # What counts as a key set
//
// An HTTP 200 answer holding a JSON object with a "keys" array of 1 to MaxJWKSKeys members (RFC
// 7517 §5). Members that do not parse as a JWK, such as an unknown "kty", are ignored (RFC 7517
// §5: implementations "SHOULD ignore JWKs within a JWK Set that use 'kty' values that are not
// understood"), and so are RSA keys under 2048 bits; at least one key must remain. A set holding
// private or symmetric key material is refused whole: those keys are compromised.
//
// # Bounds
//
// The cache holds at most MaxEntries URIs and MaxCacheBytes of documents, evicting the least
// recently used; failed fetches are remembered too (for MinRefetchInterval). An evicted URI may be
// fetched again at once, so an attacker who can register more than MaxEntries clients can cause
// more fetches; each still costs one bounded request.
//
// Set the fields before first use and do not change them afterwards. A JWKSFetcher is safe for
// concurrent use and must not be copied after first use.
type JWKSFetcher struct {
	// Client fetches the key sets. Nil means outbound.NewClient with AllowLoopback, Timeout and
	// MaxBytes. A client of your own must bring its own address policy; MaxBytes and the URL
	// rules (outbound.CheckURL) are applied here in any case.
	Client *http.Client
	// AllowLoopback lets jwks_uri be on a loopback host, over http too (development only).
	AllowLoopback bool
	// MaxBytes bounds one key set document. Zero means DefaultJWKSMaxBytes.
	MaxBytes int64
	// Timeout bounds one fetch. Zero means DefaultJWKSTimeout.
	Timeout time.Duration
	// MinRefetchInterval is the least time between two fetches of one URI. Zero means
	// DefaultJWKSMinRefetchInterval.
	MinRefetchInterval time.Duration
	// TTL is how long a fetched key set is used without fetching it again. Zero means
	// DefaultJWKSTTL.
	TTL time.Duration
	// MaxEntries bounds the number of cached URIs. Zero means DefaultJWKSMaxEntries.
	MaxEntries int
	// MaxCacheBytes bounds the total size of the cached documents. Zero means
	// DefaultJWKSMaxCacheBytes.
	MaxCacheBytes int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	once    sync.Once
	client  *http.Client
	flights singleflight.Group

	mu    sync.Mutex
	order *list.List // of *jwksEntry, most recently used first
	byURI map[string]*list.Element
	bytes int64
}

var _ fosite.JWKSFetcherStrategy = (*JWKSFetcher)(nil)

// jwksEntry is what is known about one URI.
type jwksEntry struct {
	uri       string
	set       *jose.JSONWebKeySet // nil until a fetch succeeded
	digest    [sha256.Size]byte   // of the document set came from
	size      int64
	fetched   time.Time // when set was fetched
	attempted time.Time // when a fetch last started
	fetching  bool      // a fetch is under way: callers join it rather than read the old outcome
	err       error     // the last fetch's failure, nil after a success
}

// flight is the outcome of one fetch, shared by the callers that waited for it.
type flight struct {
	set    *jose.JSONWebKeySet
	digest [sha256.Size]byte
	err    error
}

func (f *JWKSFetcher) init() {
	f.once.Do(func() {
		if f.MaxBytes <= 0 {
			f.MaxBytes = DefaultJWKSMaxBytes
		}
		if f.Timeout <= 0 {
			f.Timeout = DefaultJWKSTimeout
		}
		if f.MinRefetchInterval <= 0 {
			f.MinRefetchInterval = DefaultJWKSMinRefetchInterval
		}
		if f.TTL <= 0 {
			f.TTL = DefaultJWKSTTL
		}
		if f.MaxEntries <= 0 {
			f.MaxEntries = DefaultJWKSMaxEntries
		}
		if f.MaxCacheBytes <= 0 {
			f.MaxCacheBytes = DefaultJWKSMaxCacheBytes
		}
		f.client = f.Client
		if f.client == nil {
			f.client = outbound.NewClient(outbound.Config{AllowLoopback: f.AllowLoopback, Timeout: f.Timeout, MaxResponseBytes: f.MaxBytes})
		}
		f.order = list.New()
		f.byURI = map[string]*list.Element{}
	})
}

func (f *JWKSFetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Resolve implements fosite.JWKSFetcherStrategy: the key set at location, from the cache or fetched.
// Every error is an invalid_client *fosite.RFC6749Error.
func (f *JWKSFetcher) Resolve(ctx context.Context, location string, ignoreCache bool) (*jose.JSONWebKeySet, error) {
	f.init()
	if err := outbound.CheckURL(location, f.AllowLoopback); err != nil {
		return nil, f.unavailable(err)
	}
	now := f.now()
	f.mu.Lock()
	var had [sha256.Size]byte
	if e := f.get(location); e != nil {
		had = e.digest
		if e.set != nil && !ignoreCache && now.Sub(e.fetched) < f.TTL {
			f.mu.Unlock()
			return e.set, nil
		}
		if now.Sub(e.attempted) < f.MinRefetchInterval && !e.fetching {
			res := e.result()
			f.mu.Unlock()
			return f.answer(res, ignoreCache, had)
		}
	}
	f.mu.Unlock()

	// Fetch, or join the fetch under way; a flight that finds the URI tried within the interval
	// (one that ended just now) answers with that outcome instead of fetching.

	// The fetch is shared and must not die with the first caller's request.
	ch := f.flights.DoChan(location, func() (any, error) {
		return f.fetch(context.WithoutCancel(ctx), location), nil
	})
	select {
	case r := <-ch:
		return f.answer(r.Val.(flight), ignoreCache, had)
	case <-ctx.Done():
		return nil, f.unavailable(ctx.Err())
	}
}

// answer turns a fetch's outcome into Resolve's result. A caller that bypassed the cache because
// its keys did not match gets errNoMatchingKey when the set is the one it already had.
func (f *JWKSFetcher) answer(r flight, ignoreCache bool, had [sha256.Size]byte) (*jose.JSONWebKeySet, error) {
	switch {
	case r.err != nil:
		return nil, f.unavailable(r.err)
	case ignoreCache && r.digest == had:
		return nil, fosite.ErrInvalidClient.
			WithHintf("No key of the client's JSON Web Key Set matches; the set at its jwks_uri is fetched again at most once every %s.", f.MinRefetchInterval).
			WithWrap(errNoMatchingKey).WithDebug(errNoMatchingKey.Error())
	}
	return r.set, nil
}

// unavailable is the invalid_client error of a failed fetch. Its hint is the same whatever failed,
// so that it tells the client nothing about the network; the cause is in the debug text.
func (f *JWKSFetcher) unavailable(cause error) error {
	return fosite.ErrInvalidClient.
		WithHint("The client's JSON Web Key Set could not be obtained from its jwks_uri.").
		WithWrap(fmt.Errorf("%w: %w", errJWKSUnavailable, cause)).WithDebug(cause.Error())
}

// result is the entry's state as a flight.
func (e *jwksEntry) result() flight {
	if e.err != nil || e.set == nil {
		err := e.err
		if err == nil {
			err = errJWKSUnavailable
		}
		return flight{err: err}
	}
	return flight{set: e.set, digest: e.digest}
}

// fetch gets and parses the document at uri, unless the URI was tried within MinRefetchInterval
// (by a flight that ended just before this one started), and records the outcome.
func (f *JWKSFetcher) fetch(ctx context.Context, uri string) flight {
	now := f.now()
	f.mu.Lock()
	e := f.get(uri)
	if e != nil && now.Sub(e.attempted) < f.MinRefetchInterval {
		res := e.result()
		f.mu.Unlock()
		return res
	}
	if e == nil {
		e = &jwksEntry{uri: uri}
		f.put(e)
	}
	e.attempted, e.fetching = now, true
	f.mu.Unlock()

	body, err := f.download(ctx, uri)
	var set *jose.JSONWebKeySet
	if err == nil {
		set, err = parseJWKS(body)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	e.fetching = false
	if _, ok := f.byURI[uri]; !ok {
		f.put(e) // evicted meanwhile: only this flight creates entries for uri, so e is still its entry
	}
	if err != nil {
		e.err = err
		return flight{err: err}
	}
	f.bytes += int64(len(body)) - e.size
	e.set, e.digest, e.size, e.fetched, e.err = set, sha256.Sum256(body), int64(len(body)), f.now(), nil
	f.evict()
	return flight{set: set, digest: e.digest}
}

// download GETs uri: one attempt, status 200, at most MaxBytes.
func (f *JWKSFetcher) download(ctx context.Context, uri string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", outbound.ErrResponseTooLarge, f.MaxBytes)
	}
	return body, nil
}

// parseJWKS reads a JWK Set (RFC 7517 §5) of public keys.
func parseJWKS(body []byte) (*jose.JSONWebKeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("not a JSON Web Key Set")
	}
	if len(doc.Keys) == 0 || len(doc.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("a key set must hold between 1 and %d keys, not %d", MaxJWKSKeys, len(doc.Keys))
	}
	set := &jose.JSONWebKeySet{}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // RFC 7517 §5: ignore what is not understood
		}
		if _, symmetric := k.Key.([]byte); symmetric || (k.Valid() && !k.IsPublic()) {
			return nil, errors.New("the key set holds private or symmetric key material")
		}
		if !k.Valid() {
			continue
		}
		if rk, ok := k.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no key of the set could be read")
	}
	return set, nil
}

// get returns the entry for uri and marks it recently used, or nil. f.mu must be held.
func (f *JWKSFetcher) get(uri string) *jwksEntry {
	el, ok := f.byURI[uri]
	if !ok {
		return nil
	}
	f.order.MoveToFront(el)
	return el.Value.(*jwksEntry)
}

// put inserts e as the most recently used entry and evicts beyond the bounds. f.mu must be held.
func (f *JWKSFetcher) put(e *jwksEntry) {
	f.byURI[e.uri] = f.order.PushFront(e)
	f.bytes += e.size
	f.evict()
}

// evict drops the least recently used entries until the bounds hold, keeping the newest entry.
func (f *JWKSFetcher) evict() {
	for f.order.Len() > 1 && (f.order.Len() > f.MaxEntries || f.bytes > f.MaxCacheBytes) {
		el := f.order.Back()
		e := el.Value.(*jwksEntry)
		f.order.Remove(el)
		delete(f.byURI, e.uri)
		f.bytes -= e.size
	}
}
