package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/storage/memory"
)

// A client makes a proof for a token request with its key; the server checks it for its token
// endpoint's URL, learns the key's thumbprint, and refuses the same proof a second time.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	client, _ := dpop.NewProver(key)
	proof, _ := client.Proof(http.MethodPost, "https://as.example/oauth2/token", "", "")

	server, _ := dpop.NewVerifier(memory.New(), nil, dpop.Options{})
	target := dpop.Target{Method: http.MethodPost, URLs: []string{"https://as.example/oauth2/token"}}
	p, err := server.Verify(ctx, proof, target)
	fmt.Println(err, p.JKT == client.JKT())

	_, err = server.Verify(ctx, proof, target)
	fmt.Println(fosite.ErrorToRFC6749Error(err).GetDescription())
	// Output:
	// <nil> true
	// The DPoP proof is invalid. The DPoP proof was already used; make a new proof, with a new jti, for each request.
}

// Tokens are bound by recording the key's thumbprint in the session fosite stores with them.
func ExampleBind() {
	s := dpop.NewOpenIDSession(nil)
	_ = dpop.Bind(s, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
	fmt.Println(dpop.BoundTo(s))
	// Output:
	// 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I
}
