package clientauth_test

import (
	"context"
	"fmt"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/clientauth"
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
