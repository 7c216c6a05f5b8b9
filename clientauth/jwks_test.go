package clientauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/clientauth"
	"github.com/fosite-contrib/grants/outbound"
)

const tokenURL = "https://as.example/oauth2/token"

// clock is a settable clock for the fetcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signingKey is a client's ES256 key with its key ID.
type signingKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signingKey{kid, k}
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: "ES256", Use: "sig"}
}

func jwks(t *testing.T, keys ...signingKey) string {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	return string(b)
}

// assertion is a private_key_jwt client assertion (RFC 7523 §3) by clientID, signed with k.
func (k signingKey) assertion(t *testing.T, clientID string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.kid}}, nil)
	require.NoError(t, err)
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now()
	s, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: josejwt.Audience{tokenURL}, ID: fmt.Sprintf("%x", jti),
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).CompactSerialize()
	require.NoError(t, err)
	return s
}

// keyServer is a real HTTP server on loopback serving a key set per path, counting requests.
type keyServer struct {
	*httptest.Server
	mu   sync.Mutex
	docs map[string]string
	hits map[string]int
}

func newKeyServer(t *testing.T) *keyServer {
	t.Helper()
	ks := &keyServer{docs: map[string]string{}, hits: map[string]int{}}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.hits[r.URL.Path]++
		doc, ok := ks.docs[r.URL.Path]
		ks.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) serve(path, doc string) string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.docs[path] = doc
	return ks.URL + path
}

func (ks *keyServer) count(path string) int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.hits[path]
}

// provider is fosite with one private_key_jwt client whose keys are at jwksURI.
func provider(fetcher fosite.JWKSFetcherStrategy, jwksURI string) *fosite.Fosite {
	store := storage.NewMemoryStore()
	store.Clients["device"] = &fosite.DefaultOpenIDConnectClient{
		DefaultClient:                     &fosite.DefaultClient{ID: "device"},
		JSONWebKeysURI:                    jwksURI,
		TokenEndpointAuthMethod:           "private_key_jwt",
		TokenEndpointAuthSigningAlgorithm: "ES256",
	}
	return &fosite.Fosite{Store: store, Config: &fosite.Config{JWKSFetcherStrategy: fetcher, TokenURL: tokenURL}}
}

// authenticate runs fosite's client authentication as the token endpoint does.
func authenticate(p *fosite.Fosite, assertion string) error {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := p.AuthenticateClient(context.Background(), r, form)
	return err
}

// requireInvalidClient checks err is RFC 6749 §5.2 invalid_client with status 401 and returns its hint.
func requireInvalidClient(t *testing.T, err error) string {
	t.Helper()
	require.ErrorIs(t, err, fosite.ErrInvalidClient)
	rfc := fosite.ErrorToRFC6749Error(err)
	require.Equal(t, "invalid_client", rfc.ErrorField)
	require.Equal(t, http.StatusUnauthorized, rfc.CodeField)
	return rfc.HintField
}

func TestJWKSFetcherCachesKeySets(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	a := newKey(t, "a")
	uri := ks.serve("/jwks", jwks(t, a))
	p := provider(&clientauth.JWKSFetcher{AllowLoopback: true}, uri)
	for range 5 {
		require.NoError(t, authenticate(p, a.assertion(t, "device")))
	}
	require.Equal(t, 1, ks.count("/jwks"), "five authentications, one fetch")
}

// TestUnknownKeyIDFloodFetchesOncePerInterval: assertions naming a key the set does not hold make
// fosite ask again with ignoreCache=true; the fetcher fetches at most once per MinRefetchInterval and
// answers invalid_client meanwhile. A key added by the client is found after the interval.
func TestUnknownKeyIDFloodFetchesOncePerInterval(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	a, b := newKey(t, "a"), newKey(t, "b")
	uri := ks.serve("/jwks", jwks(t, a))
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	p := provider(&clientauth.JWKSFetcher{AllowLoopback: true, MinRefetchInterval: time.Minute, Now: c.Now}, uri)

	for range 50 {
		requireInvalidClient(t, authenticate(p, b.assertion(t, "device")))
	}
	require.Equal(t, 1, ks.count("/jwks"), "50 unknown key IDs, one fetch")

	c.Add(59 * time.Second)
	requireInvalidClient(t, authenticate(p, b.assertion(t, "device")))
	require.Equal(t, 1, ks.count("/jwks"), "still within the interval")

	c.Add(time.Second)
	for range 50 {
		requireInvalidClient(t, authenticate(p, b.assertion(t, "device")))
	}
	require.Equal(t, 2, ks.count("/jwks"), "one more fetch once the interval passed")
	require.NoError(t, authenticate(p, a.assertion(t, "device")), "the known key still works, from the cache")
	require.Equal(t, 2, ks.count("/jwks"))

	ks.serve("/jwks", jwks(t, a, b)) // the client rotates in key b
	requireInvalidClient(t, authenticate(p, b.assertion(t, "device")))
	c.Add(time.Minute)
	require.NoError(t, authenticate(p, b.assertion(t, "device")), "the new key is fetched after the interval")
	require.Equal(t, 3, ks.count("/jwks"))
}

// TestConcurrentResolvesShareOneFetch: many requests for one URI at once cost one fetch.
func TestConcurrentResolvesShareOneFetch(t *testing.T) {
	t.Parallel()
	a := newKey(t, "a")
	doc := jwks(t, a)
	var hits atomic.Int64
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	f := &clientauth.JWKSFetcher{AllowLoopback: true}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			set, err := f.Resolve(context.Background(), srv.URL, false)
			if err == nil && len(set.Key("a")) != 1 {
				err = fmt.Errorf("key a missing")
			}
			errs <- err
		}()
	}
	<-arrived
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, hits.Load())
}

// TestHugeKeySetIsInvalidClient: a jwks_uri streaming 600 MB makes authentication fail with
// invalid_client; the fetch stops at the cap, so the server manages to write only what the cap and
// the kernel's socket buffers hold, and nothing is fetched again within the interval.
func TestHugeKeySetIsInvalidClient(t *testing.T) {
	t.Parallel()
	const huge = 600 << 20
	var written atomic.Int64
	var hits atomic.Int64
	done := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		defer func() { done <- struct{}{} }()
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(`{"keys":[` + strings.Repeat(" ", 32<<10-9))
		for written.Load() < huge {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
			chunk = chunk[:0:0]
			chunk = append(chunk, strings.Repeat(" ", 32<<10)...)
		}
	}))
	t.Cleanup(srv.Close)
	p := provider(&clientauth.JWKSFetcher{AllowLoopback: true}, srv.URL)
	err := authenticate(p, newKey(t, "a").assertion(t, "device"))
	requireInvalidClient(t, err)
	require.ErrorIs(t, err, outbound.ErrResponseTooLarge)
	<-done
	require.Less(t, written.Load(), int64(32<<20), "the server wrote %d of %d bytes", written.Load(), int64(huge))

	requireInvalidClient(t, authenticate(p, newKey(t, "a").assertion(t, "device")))
	require.EqualValues(t, 1, hits.Load(), "a failed URI is not fetched again within the interval")
}

// TestFetchFailuresAreInvalidClient: whatever goes wrong with a jwks_uri, fosite's client
// authentication answers invalid_client (401), never a server error, after exactly one request, with
// the same hint, so a client cannot tell from it whether a port was open.
func TestFetchFailuresAreInvalidClient(t *testing.T) {
	t.Parallel()
	good := newKeyServer(t)
	goodURI := good.serve("/jwks", jwks(t, newKey(t, "a")))
	priv, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: newKey(t, "a").key, KeyID: "a"}}})
	require.NoError(t, err)
	many := make([]string, clientauth.MaxJWKSKeys+1)
	for i := range many {
		many[i] = string(must(json.Marshal(newKey(t, fmt.Sprint(i)).public())))
	}
	answer := func(status int, body string, header ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + closed.Addr().String() + "/jwks"
	require.NoError(t, closed.Close())
	notHTTP, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = notHTTP.Close() })
	go func() {
		for {
			c, err := notHTTP.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			_ = c.Close()
		}
	}()

	var hint string
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc // served on a new server; nil means use url
		url     string
		loop    bool
	}{
		{name: "404", handler: answer(404, "")},
		{name: "500", handler: answer(500, "oops")},
		{name: "redirect to a good key set is not followed", handler: answer(302, "", "Location", goodURI)},
		{name: "not JSON", handler: answer(200, "<html>")},
		{name: "no keys", handler: answer(200, `{"keys":[]}`)},
		{name: "no keys member", handler: answer(200, `{"kty":"EC"}`)},
		{name: "only unreadable keys", handler: answer(200, `{"keys":[{"kty":"XYZ"}]}`)},
		{name: "private keys", handler: answer(200, string(priv))},
		{name: "symmetric key", handler: answer(200, `{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}`)},
		{name: "too many keys", handler: answer(200, `{"keys":[`+strings.Join(many, ",")+`]}`)},
		{name: "closed port", url: closedURL, loop: true},
		{name: "open port, not HTTP", url: "http://" + notHTTP.Addr().String() + "/jwks", loop: true},
		{name: "loopback outside dev mode", url: goodURI, loop: false},
		{name: "private address", url: "https://10.0.0.1/jwks", loop: true},
		{name: "metadata service", url: "https://169.254.169.254/latest/meta-data", loop: true},
		{name: "plain http", url: "http://client.example/jwks", loop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			u := tc.url
			if tc.handler != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					tc.handler(w, r)
				}))
				defer srv.Close()
				u, tc.loop = srv.URL+"/jwks", true
			}
			p := provider(&clientauth.JWKSFetcher{AllowLoopback: tc.loop}, u)
			h := requireInvalidClient(t, authenticate(p, newKey(t, "a").assertion(t, "device")))
			if hint == "" {
				hint = h
			}
			require.Equal(t, hint, h)
			if tc.handler != nil {
				require.EqualValues(t, 1, hits.Load(), "one attempt, no retry")
			}
		})
	}
	require.Zero(t, good.count("/jwks"), "the redirect was not followed")
	require.Equal(t, "The client's JSON Web Key Set could not be obtained from its jwks_uri.", hint)
}

// TestJWKSCacheIsBounded: beyond MaxEntries URIs, the least recently used is forgotten (and fetched
// again when next needed); a key set older than TTL is fetched again.
func TestJWKSCacheIsBounded(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	doc := jwks(t, newKey(t, "a"))
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f := &clientauth.JWKSFetcher{AllowLoopback: true, MaxEntries: 3, TTL: time.Hour, Now: c.Now}
	resolve := func(path string) {
		t.Helper()
		_, err := f.Resolve(context.Background(), ks.serve(path, doc), false)
		require.NoError(t, err)
	}
	for _, p := range []string{"/1", "/2", "/3"} {
		resolve(p)
	}
	resolve("/1") // most recently used now: /2 is the oldest
	resolve("/4") // evicts /2
	resolve("/1")
	resolve("/3")
	require.Equal(t, 1, ks.count("/1"))
	require.Equal(t, 1, ks.count("/3"))
	resolve("/2")
	require.Equal(t, 2, ks.count("/2"), "evicted, so fetched again")

	c.Add(time.Hour)
	resolve("/2")
	require.Equal(t, 3, ks.count("/2"), "older than TTL, so fetched again")

	// MaxCacheBytes: room for one document only.
	small := &clientauth.JWKSFetcher{AllowLoopback: true, MaxCacheBytes: int64(len(doc)) + 1}
	for _, p := range []string{"/5", "/6", "/5"} {
		_, err := small.Resolve(context.Background(), ks.serve(p, doc), false)
		require.NoError(t, err)
	}
	require.Equal(t, 2, ks.count("/5"), "the second document pushed the first out")
}

// TestCallerCancellationDoesNotFailTheSharedFetch: a caller that gives up gets invalid_client, and
// the fetch it started still completes for the others.
func TestCallerCancellationDoesNotFailTheSharedFetch(t *testing.T) {
	t.Parallel()
	doc := jwks(t, newKey(t, "a"))
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	f := &clientauth.JWKSFetcher{AllowLoopback: true}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.Resolve(ctx, srv.URL, false)
		errc <- err
	}()
	<-arrived
	cancel()
	requireInvalidClient(t, <-errc)
	close(release)
	set, err := f.Resolve(context.Background(), srv.URL, false)
	require.NoError(t, err)
	require.Len(t, set.Keys, 1)
	require.EqualValues(t, 1, hits.Load())
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
