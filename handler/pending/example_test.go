package pending_test

import (
	"fmt"

	"github.com/fosite-contrib/grants/handler/pending"
)

func ExampleUserCodeFormat_Display() {
	fmt.Println(pending.UserCodeBase20.Display("WDJBMJHT"))
	fmt.Println(pending.UserCodeDigits.Display("019450730"))
	// Output:
	// WDJB-MJHT
	// 019-450-730
}

func ExampleUserCodeFormat_Normalize() {
	// What people type: lower case, spaces, the dash shown on the device, even a vowel by mistake.
	for _, typed := range []string{"wdjb-mjht", " WDJB MJHT ", "wdjbe-mjht"} {
		fmt.Println(pending.UserCodeBase20.Normalize(typed))
	}
	// Output:
	// WDJBMJHT
	// WDJBMJHT
	// WDJBMJHT
}
