package clientauth_test

import (
	"context"
	"fmt"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/clientauth"
)

// Install the fetcher in fosite's configuration; every jwks_uri fetch then goes through it. A
// jwks_uri on a private address is refused before any connection, as invalid_client.
func ExampleJWKSFetcher() {
	cfg := &fosite.Config{
		JWKSFetcherStrategy: &clientauth.JWKSFetcher{}, // production: https, public addresses, 64 KiB
	}
	_, err := cfg.GetJWKSFetcherStrategy(context.Background()).Resolve(context.Background(), "https://10.0.0.1/jwks", false)
	rfc := fosite.ErrorToRFC6749Error(err)
	fmt.Println(rfc.ErrorField, rfc.CodeField)
	// Output: invalid_client 401
}
