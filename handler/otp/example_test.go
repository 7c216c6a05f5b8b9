package otp_test

import (
	"context"
	"fmt"

	"github.com/fosite-contrib/grants/handler/otp"
)

// A Directory over the application's customer records, and what the client sees of them.
func ExampleDirectoryFunc() {
	dir := otp.DirectoryFunc(func(_ context.Context, hint string) (*otp.Account, error) {
		if hint == "1 Main St" || hint == "ACCT-1001" {
			return &otp.Account{Subject: "customer-1001", Destinations: []otp.Destination{
				{Type: otp.SMS, Address: "+15551234567"},
				{Type: otp.Email, Address: "hello@example.com"},
			}}, nil
		}
		return nil, otp.ErrUnknownAccount // the endpoint answers with a decoy
	})
	acct, _ := dir.LookupAccount(context.Background(), "1 Main St")
	for _, d := range acct.Destinations {
		fmt.Println(d.Type, otp.DefaultMask{}.Mask(context.Background(), d.Type, d.Address))
	}
	// Output:
	// sms ***-***-4567
	// email h***@e***.com
}

// What the person typed, and what is compared.
func ExampleNormalizeCode() {
	for _, typed := range []string{"123 456", "123-456", "12345a"} {
		code, ok := otp.NormalizeCode(typed)
		fmt.Printf("%q → %q %v\n", typed, code, ok)
	}
	// Output:
	// "123 456" → "123456" true
	// "123-456" → "123456" true
	// "12345a" → "" false
}
