package rfc8628_test

import (
	"fmt"

	"github.com/fosite-contrib/grants/handler/rfc8628"
)

func ExampleCompleteVerificationURI() {
	fmt.Println(rfc8628.CompleteVerificationURI("https://example.com/device", "WDJB-MJHT"))
	// A query the configured URI already has is kept.
	fmt.Println(rfc8628.CompleteVerificationURI("https://example.com/device?lang=en", "WDJB-MJHT"))
	// No verification URI, no complete one.
	fmt.Printf("%q\n", rfc8628.CompleteVerificationURI("", "WDJB-MJHT"))
	// Output:
	// https://example.com/device?user_code=WDJB-MJHT
	// https://example.com/device?lang=en&user_code=WDJB-MJHT
	// ""
}
