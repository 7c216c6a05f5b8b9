package clientauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/clientauth"
	"github.com/fosite-contrib/grants/storage/memory"
)

// ExampleCachingHasher plugs the cache into fosite's client authentication:
// fosite asks Config.GetSecretsHasher for the hasher, which returns
// Config.ClientSecretsHasher when it is set.
func ExampleCachingHasher() {
	// A real server keeps the default cost (12); 4 keeps this example quick.
	cfg := &fosite.Config{HashCost: 4}
	cfg.ClientSecretsHasher = &clientauth.CachingHasher{
		Hasher: &fosite.BCrypt{Config: cfg},
		// TTL, MaxEntries and Now have sensible defaults.
	}

	ctx := context.Background()
	hasher := cfg.GetSecretsHasher(ctx)
	stored, _ := hasher.Hash(ctx, []byte("client-secret")) // bcrypt, as before

	fmt.Println("first poll:", hasher.Compare(ctx, stored, []byte("client-secret")))  // runs bcrypt
	fmt.Println("second poll:", hasher.Compare(ctx, stored, []byte("client-secret"))) // from the cache
	fmt.Println("wrong secret rejected:", hasher.Compare(ctx, stored, []byte("guess")) != nil)
	// Output:
	// first poll: <nil>
	// second poll: <nil>
	// wrong secret rejected: true
}

// ExampleLimiter puts the Limiter in front of fosite's client authentication. One address guesses a
// client's secret: each guess costs a bcrypt until the address reaches its limit, then the guesses are
// refused without one. The client itself, from its own address, still gets in.
func ExampleLimiter() {
	ctx := context.Background()
	store := memory.New()
	cfg := &fosite.Config{HashCost: 4} // a real server keeps the default cost
	cfg.ClientSecretsHasher = &clientauth.CachingHasher{Hasher: &fosite.BCrypt{Config: cfg}}
	limiter := &clientauth.Limiter{Storage: store, PerAddress: 3}
	cfg.ClientAuthenticationStrategy = limiter.AuthenticateClient
	provider := fosite.NewOAuth2Provider(store, cfg)
	limiter.Next = provider.DefaultClientAuthenticationStrategy

	hash, _ := cfg.GetSecretsHasher(ctx).Hash(ctx, []byte("tv-secret"))
	_ = store.SetClient(ctx, &fosite.DefaultClient{ID: "tv", Secret: hash})

	authenticate := func(addr, secret string) string {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
		r.RemoteAddr = addr + ":50000"
		r.SetBasicAuth("tv", secret)
		_, err := provider.AuthenticateClient(ctx, r, url.Values{})
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			return fmt.Sprint(rfc.CodeField, " ", rfc.ErrorField)
		}
		return "ok"
	}
	for i := range 5 {
		fmt.Println("guess", i+1, authenticate("192.0.2.1", "guess"))
	}
	fmt.Println("the TV:", authenticate("198.51.100.7", "tv-secret"))
	// Output:
	// guess 1 401 invalid_client
	// guess 2 401 invalid_client
	// guess 3 401 invalid_client
	// guess 4 429 temporarily_unavailable
	// guess 5 429 temporarily_unavailable
	// the TV: ok
}
