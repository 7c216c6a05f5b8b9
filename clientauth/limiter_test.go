package clientauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/storage/memory"
)

const limiterTokenURL = "https://as.example.com/oauth2/token"

// limiterFixture is fosite's client authentication with a Limiter in front of it, a CachingHasher over
// a counting bcrypt, the grants' memory store and one clock for both.
type limiterFixture struct {
	store    *memory.MemoryStore
	inner    *countingHasher
	hasher   *CachingHasher
	clock    *clock
	limiter  *Limiter
	provider *fosite.Fosite
}

func newLimiterFixture(t *testing.T, store *memory.MemoryStore, configure func(*Limiter)) *limiterFixture {
	t.Helper()
	if store == nil {
		store = memory.New()
	}
	f := &limiterFixture{store: store, inner: newCountingHasher(), clock: newClock()}
	f.hasher = &CachingHasher{Hasher: f.inner, Now: f.clock.Now}
	f.limiter = &Limiter{Storage: store, Now: f.clock.Now, PerAddress: 5, PerClient: 10}
	if configure != nil {
		configure(f.limiter)
	}
	cfg := &fosite.Config{ClientSecretsHasher: f.hasher, ClientAuthenticationStrategy: f.limiter.AuthenticateClient, TokenURL: limiterTokenURL}
	f.provider = fosite.NewOAuth2Provider(store, cfg)
	f.limiter.Next = f.provider.DefaultClientAuthenticationStrategy
	return f
}

// addClient registers a confidential client with secret, hashed at bcrypt's minimum cost.
func (f *limiterFixture) addClient(t *testing.T, id, secret string) {
	t.Helper()
	hash, err := f.inner.Hash(context.Background(), []byte(secret))
	require.NoError(t, err)
	require.NoError(t, f.store.SetClient(context.Background(), &fosite.DefaultClient{ID: id, Secret: hash}))
}

// basic authenticates id with secret over HTTP Basic from addr, through fosite's AuthenticateClient.
func (f *limiterFixture) basic(addr, id, secret string) error {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	r.RemoteAddr = addr + ":40000"
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	_, err := f.provider.AuthenticateClient(context.Background(), r, url.Values{"grant_type": {"client_credentials"}})
	return err
}

// form authenticates with the given body parameters from addr.
func (f *limiterFixture) form(addr string, form url.Values) error {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	r.RemoteAddr = addr + ":40000"
	_, err := f.provider.AuthenticateClient(context.Background(), r, form)
	return err
}

func (f *limiterFixture) compares() int64 { return f.inner.compares.Load() }

// TestLimiterFloodFromOneAddress: one address sends wrong secrets for a client. Each failure up to the
// limit costs one bcrypt; after it, the address is refused with 429 and no hash is computed. The flooded
// client, from its own address, and every other client still authenticate.
func TestLimiterFloodFromOneAddress(t *testing.T) {
	t.Parallel()
	f := newLimiterFixture(t, nil, nil)
	f.addClient(t, "tv", "tv-secret")
	f.addClient(t, "kiosk", "kiosk-secret")

	for i := range 5 {
		require.ErrorIs(t, f.basic("192.0.2.1", "tv", "guess"), fosite.ErrInvalidClient)
		require.EqualValues(t, i+1, f.compares())
	}
	for range 20 {
		err := f.basic("192.0.2.1", "tv", "guess")
		require.ErrorIs(t, err, pending.ErrTooManyAttempts)
		require.Equal(t, http.StatusTooManyRequests, fosite.ErrorToRFC6749Error(err).CodeField)
	}
	require.EqualValues(t, 5, f.compares(), "no hash after the limit")

	// Guessing another client's secret from the same address is refused just as cheaply.
	require.ErrorIs(t, f.basic("192.0.2.1", "kiosk", "guess"), pending.ErrTooManyAttempts)
	require.EqualValues(t, 5, f.compares())

	require.NoError(t, f.basic("198.51.100.7", "tv", "tv-secret"))
	require.NoError(t, f.basic("198.51.100.8", "kiosk", "kiosk-secret"))
	require.EqualValues(t, 7, f.compares())

	// A secret this server has verified (a cache hit) needs no hash, so it is not refused even from
	// the blocked address: there is nothing left to guess about it.
	require.NoError(t, f.basic("192.0.2.1", "tv", "tv-secret"))
	require.EqualValues(t, 7, f.compares())

	// The window passes: the address may try again, at one hash per attempt.
	f.clock.Advance(DefaultWindow)
	require.ErrorIs(t, f.basic("192.0.2.1", "kiosk", "guess"), fosite.ErrInvalidClient)
	require.EqualValues(t, 8, f.compares())
}

// TestLimiterFloodFromManyAddresses: wrong secrets for one client from many addresses, each under its
// own limit, reach the client's limit; after it no hash is computed for an unverified secret, but the
// client's verified secret still works from anywhere, and once the cache entry has expired, from the
// address it authenticated from before.
func TestLimiterFloodFromManyAddresses(t *testing.T) {
	t.Parallel()
	f := newLimiterFixture(t, nil, nil)
	f.addClient(t, "tv", "tv-secret")
	f.addClient(t, "kiosk", "kiosk-secret")
	require.NoError(t, f.basic("203.0.113.1", "tv", "tv-secret")) // the TV, at home
	require.EqualValues(t, 1, f.compares())

	refused := 0
	for i := range 8 {
		for range 3 {
			err := f.basic(fmt.Sprintf("10.0.0.%d", i), "tv", "guess")
			if err != nil && fosite.ErrorToRFC6749Error(err).CodeField == http.StatusTooManyRequests {
				refused++
				continue
			}
			require.ErrorIs(t, err, fosite.ErrInvalidClient)
		}
	}
	require.Equal(t, 24-10, refused)
	require.EqualValues(t, 1+10, f.compares(), "the client's limit bounds the hashes")

	// The TV polls on, from home and from a new address: its secret is cached.
	require.NoError(t, f.basic("203.0.113.1", "tv", "tv-secret"))
	require.NoError(t, f.basic("198.51.100.9", "tv", "tv-secret"))
	// Other clients are not affected at all.
	require.NoError(t, f.basic("10.0.0.1", "kiosk", "kiosk-secret"))
	require.EqualValues(t, 12, f.compares())

	// The cache entry expires while the flood goes on. From an address the TV never authenticated from
	// its secret now needs a hash, which the limit refuses; from home it is checked and cached again.
	f.clock.Advance(DefaultTTL)
	require.ErrorIs(t, f.basic("198.51.100.9", "tv", "tv-secret"), pending.ErrTooManyAttempts)
	require.EqualValues(t, 12, f.compares())
	require.NoError(t, f.basic("203.0.113.1", "tv", "tv-secret"))
	require.EqualValues(t, 13, f.compares())
	require.NoError(t, f.basic("198.51.100.9", "tv", "tv-secret"))
	require.ErrorIs(t, f.basic("198.51.100.10", "tv", "guess"), pending.ErrTooManyAttempts)
	require.EqualValues(t, 13, f.compares())
}

// TestLimiterKnownAddressOutlivesTheProcess: a second server (a new CachingHasher, as after a restart or
// on another instance) sharing the store lets the client in from the address it authenticated from,
// though the client is at its limit and nothing is cached there.
func TestLimiterKnownAddressOutlivesTheProcess(t *testing.T) {
	t.Parallel()
	store := memory.New()
	first := newLimiterFixture(t, store, nil)
	first.addClient(t, "tv", "tv-secret")
	require.NoError(t, first.basic("203.0.113.1", "tv", "tv-secret"))
	for i := range 10 {
		require.ErrorIs(t, first.basic(fmt.Sprintf("10.0.0.%d", i), "tv", "guess"), fosite.ErrInvalidClient)
	}

	second := newLimiterFixture(t, store, nil)
	second.clock.Advance(time.Minute)
	require.ErrorIs(t, second.basic("10.0.1.1", "tv", "guess"), pending.ErrTooManyAttempts, "the counters are shared")
	require.ErrorIs(t, second.basic("198.51.100.9", "tv", "tv-secret"), pending.ErrTooManyAttempts)
	require.Zero(t, second.compares())
	require.NoError(t, second.basic("203.0.113.1", "tv", "tv-secret"))
	require.EqualValues(t, 1, second.compares())

	t.Run("forgotten after two periods", func(t *testing.T) {
		third := newLimiterFixture(t, store, func(l *Limiter) { l.Window = 365 * 24 * time.Hour })
		third.clock.Advance(2 * DefaultRemember)
		require.ErrorIs(t, third.basic("203.0.113.1", "tv", "tv-secret"), pending.ErrTooManyAttempts)
	})
}

// TestLimiterCountersAreShared: two instances over one store count together.
func TestLimiterCountersAreShared(t *testing.T) {
	t.Parallel()
	store := memory.New()
	a, b := newLimiterFixture(t, store, nil), newLimiterFixture(t, store, nil)
	a.addClient(t, "tv", "tv-secret")
	for i := range 5 {
		f := a
		if i%2 == 1 {
			f = b
		}
		require.ErrorIs(t, f.basic("192.0.2.1", "tv", "guess"), fosite.ErrInvalidClient)
	}
	require.ErrorIs(t, a.basic("192.0.2.1", "tv", "guess"), pending.ErrTooManyAttempts)
	require.ErrorIs(t, b.basic("192.0.2.1", "tv", "guess"), pending.ErrTooManyAttempts)
	require.EqualValues(t, 5, a.compares()+b.compares())
}

// TestLimiterCounts checks what is counted under which key.
func TestLimiterCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	get := func(f *limiterFixture, key string) int {
		n, err := f.store.GetAttempts(ctx, key, f.clock.Now(), DefaultWindow)
		require.NoError(t, err)
		return n
	}
	for _, tc := range []struct {
		name              string
		run               func(f *limiterFixture) error
		wantErr           error
		address, clientTV int
	}{
		{"wrong secret", func(f *limiterFixture) error { return f.basic("192.0.2.1", "tv", "guess") }, fosite.ErrInvalidClient, 1, 1},
		{"wrong secret in the body", func(f *limiterFixture) error {
			return f.form("192.0.2.1", url.Values{"client_id": {"tv"}, "client_secret": {"guess"}})
		}, fosite.ErrInvalidClient, 1, 1},
		{"unknown client: the address only", func(f *limiterFixture) error { return f.basic("192.0.2.1", "nobody", "guess") }, fosite.ErrInvalidClient, 1, 0},
		{"confidential client without a secret", func(f *limiterFixture) error { return f.form("192.0.2.1", url.Values{"client_id": {"tv"}}) }, fosite.ErrInvalidClient, 1, 1},
		{"no credentials: not counted", func(f *limiterFixture) error { return f.form("192.0.2.1", url.Values{"grant_type": {"x"}}) }, fosite.ErrInvalidRequest, 0, 0},
		{"two methods: not counted", func(f *limiterFixture) error {
			return f.form("192.0.2.1", url.Values{"client_secret": {"x"}, "client_assertion": {"y"}})
		}, fosite.ErrInvalidRequest, 0, 0},
		{"right secret: not counted", func(f *limiterFixture) error { return f.basic("192.0.2.1", "tv", "tv-secret") }, nil, 0, 0},
		{"IPv6 counted per /64", func(f *limiterFixture) error { return f.basic("[2001:db8:1:2:aaaa::1]", "tv", "guess") }, fosite.ErrInvalidClient, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newLimiterFixture(t, nil, nil)
			f.addClient(t, "tv", "tv-secret")
			err := tc.run(f)
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
			}
			require.Equal(t, tc.address, get(f, keyAddress+"192.0.2.1"))
			require.Equal(t, tc.clientTV, get(f, keyClient+"tv"))
			require.Zero(t, get(f, keyClient+"nobody"))
			if strings.Contains(tc.name, "IPv6") {
				require.Equal(t, 1, get(f, keyAddress+"2001:db8:1:2::/64"))
			}
		})
	}
}

// TestLimiterDisabledLimits: negative limits turn each limit off.
func TestLimiterDisabledLimits(t *testing.T) {
	t.Parallel()
	f := newLimiterFixture(t, nil, func(l *Limiter) { l.PerAddress, l.PerClient = -1, -1 })
	f.addClient(t, "tv", "tv-secret")
	for range 30 {
		require.ErrorIs(t, f.basic("192.0.2.1", "tv", "guess"), fosite.ErrInvalidClient)
	}
	require.EqualValues(t, 30, f.compares())
}

// TestLimiterMisconfigured: a Limiter without Next or Storage answers server_error, not a panic.
func TestLimiterMisconfigured(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	_, err := (&Limiter{}).AuthenticateClient(context.Background(), r, url.Values{"client_id": {"x"}})
	require.ErrorIs(t, err, fosite.ErrServerError)
}

// jwksServer serves a key set and counts the fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T, set jose.JSONWebKeySet) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

// assertion returns a client assertion (RFC 7523 §3) for id signed by key under kid.
func assertion(t *testing.T, key *ecdsa.PrivateKey, kid, id string, now time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	require.NoError(t, err)
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	raw, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: id, Subject: id, Audience: josejwt.Audience{limiterTokenURL}, ID: hex.EncodeToString(jti),
		IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).CompactSerialize()
	require.NoError(t, err)
	return raw
}

func assertionForm(a string) url.Values {
	return url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
}

// TestLimiterPrivateKeyJWT: failed client assertions (RFC 7523) are counted too; past the address's
// limit an assertion is refused before it is parsed, so its keys are not fetched again; the client's
// valid assertions from elsewhere still work.
func TestLimiterPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	bogus, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks := newJWKSServer(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: good.Public(), KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})

	f := newLimiterFixture(t, nil, nil)
	require.NoError(t, f.store.SetClient(context.Background(), &fosite.DefaultOpenIDConnectClient{
		DefaultClient:                     &fosite.DefaultClient{ID: "phone", GrantTypes: []string{"client_credentials"}},
		JSONWebKeysURI:                    jwks.URL,
		TokenEndpointAuthMethod:           "private_key_jwt",
		TokenEndpointAuthSigningAlgorithm: "ES256",
	}))
	now := time.Now() // fosite checks exp and iat with the real clock

	// An unknown kid makes fosite fetch the keys again on every attempt. Whatever fosite calls it, a
	// client JWT that cannot be verified is invalid_client (RFC 7523 §3.2).
	for range 5 {
		err := f.form("192.0.2.1", assertionForm(assertion(t, bogus, "unknown", "phone", now)))
		require.ErrorIs(t, err, fosite.ErrInvalidClient)
		require.Equal(t, 401, fosite.ErrorToRFC6749Error(err).CodeField)
	}
	fetched := jwks.fetches.Load()
	require.GreaterOrEqual(t, fetched, int64(5))
	for range 10 {
		err := f.form("192.0.2.1", assertionForm(assertion(t, bogus, "unknown", "phone", now)))
		require.ErrorIs(t, err, pending.ErrTooManyAttempts)
	}
	require.Equal(t, fetched, jwks.fetches.Load(), "no fetch after the limit")

	n, err := f.store.GetAttempts(context.Background(), keyClient+"phone", f.clock.Now(), DefaultWindow)
	require.NoError(t, err)
	require.Equal(t, 5, n, "the failures count for the client named by the assertion's sub")

	require.NoError(t, f.form("198.51.100.7", assertionForm(assertion(t, good, "k1", "phone", now))))
}

// TestBlockedAddresses: the in-memory hint of blocked addresses expires, forgets an address the store
// no longer blocks, and when full calls every address a suspect until room is made.
func TestBlockedAddresses(t *testing.T) {
	t.Parallel()
	var b blockedAddresses
	now := newClock().Now()
	require.False(t, b.suspect("a", now))
	b.observe("a", true, now, time.Minute)
	require.True(t, b.suspect("a", now))
	require.False(t, b.suspect("b", now))
	require.False(t, b.suspect("a", now.Add(time.Minute)), "expired")
	b.observe("a", false, now, time.Minute)
	require.False(t, b.suspect("a", now))

	for i := range maxBlocked {
		b.observe(fmt.Sprint("x", i), true, now, time.Minute)
	}
	require.False(t, b.full)
	b.observe("one too many", true, now, time.Minute)
	require.True(t, b.full)
	require.True(t, b.suspect("never seen", now), "full: everyone is a suspect")
	b.observe("x1", false, now, time.Minute)
	require.False(t, b.suspect("never seen", now), "room again")
	later := now.Add(time.Minute)
	b.observe("y", true, later, time.Minute) // fills the last place
	b.observe("z", true, later, time.Minute) // finds the map full and drops what has expired
	require.True(t, b.suspect("y", later))
	require.True(t, b.suspect("z", later))
	require.Len(t, b.until, 2, "the expired entries were dropped to make room")
}

// TestLimiterAssertionBlockedElsewhere: an address blocked through another instance costs this one a
// single verification (and key fetch) before it is refused here too.
func TestLimiterAssertionBlockedElsewhere(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks := newJWKSServer(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})
	store := memory.New()
	a, b := newLimiterFixture(t, store, nil), newLimiterFixture(t, store, nil)
	require.NoError(t, store.SetClient(context.Background(), &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{ID: "phone"}, JSONWebKeysURI: jwks.URL,
		TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlgorithm: "ES256",
	}))
	for range 5 {
		require.Error(t, a.form("192.0.2.1", assertionForm(assertion(t, key, "unknown", "phone", time.Now()))))
	}
	before := jwks.fetches.Load()
	require.Error(t, b.form("192.0.2.1", assertionForm(assertion(t, key, "unknown", "phone", time.Now()))))
	require.Greater(t, jwks.fetches.Load(), before, "b did not know yet")
	before = jwks.fetches.Load()
	require.ErrorIs(t, b.form("192.0.2.1", assertionForm(assertion(t, key, "unknown", "phone", time.Now()))), pending.ErrTooManyAttempts)
	require.Equal(t, before, jwks.fetches.Load())
}

// TestLimiterConcurrentFlood: many concurrent wrong secrets from one address. Counting is a read and a
// write apart from the check, so up to one hash per concurrent attempt may pass the limit (see the
// package documentation); after the flood the address is refused without a hash.
func TestLimiterConcurrentFlood(t *testing.T) {
	t.Parallel()
	f := newLimiterFixture(t, nil, nil)
	f.addClient(t, "tv", "tv-secret")
	const workers = 8
	errs := make(chan error, workers*10)
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 10 {
				errs <- f.basic("192.0.2.1", "tv", "guess")
			}
		}()
	}
	for range workers {
		<-done
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, pending.ErrTooManyAttempts) {
			require.ErrorIs(t, err, fosite.ErrInvalidClient)
		}
	}
	require.LessOrEqual(t, f.compares(), int64(5+workers))
	before := f.compares()
	require.ErrorIs(t, f.basic("192.0.2.1", "tv", "guess"), pending.ErrTooManyAttempts)
	require.Equal(t, before, f.compares())
}
