package outbound_test

import (
	"errors"
	"fmt"

	"github.com/fosite-contrib/grants/outbound"
)

// A production client refuses, before sending anything, what a hostile client might register:
// plain http, the cloud metadata service, a private address, and localhost.
func ExampleNewClient() {
	client := outbound.NewClient(outbound.Config{})
	for _, u := range []string{
		"http://client.example/jwks",
		"https://169.254.169.254/latest/meta-data/",
		"https://10.0.0.1/jwks",
		"https://localhost/jwks",
	} {
		_, err := client.Get(u)
		fmt.Println(errors.Is(err, outbound.ErrForbidden))
	}
	// Output:
	// true
	// true
	// true
	// true
}

// Registration checks the URLs a client registers; names are judged later, when dialled.
func ExampleCheckURL() {
	fmt.Println(outbound.CheckURL("https://client.example/jwks", false))
	fmt.Println(outbound.CheckURL("https://[::1]/jwks", false))
	fmt.Println(outbound.CheckURL("http://127.0.0.1:8091/cb", true)) // development only
	// Output:
	// <nil>
	// outbound: forbidden destination: loopback hosts are not allowed
	// <nil>
}
