package pending_test

import (
	"fmt"

	"github.com/fosite-contrib/grants/handler/pending"
)

func ExampleCompleteVerificationURI() {
	fmt.Println(pending.CompleteVerificationURI("https://example.com/device", "WDJB-MJHT"))
	// A query the configured URI already has is kept.
	fmt.Println(pending.CompleteVerificationURI("https://example.com/device?lang=en", "WDJB-MJHT"))
	// No verification URI, no complete one.
	fmt.Printf("%q\n", pending.CompleteVerificationURI("", "WDJB-MJHT"))
	// Output:
	// https://example.com/device?user_code=WDJB-MJHT
	// https://example.com/device?lang=en&user_code=WDJB-MJHT
	// ""
}
