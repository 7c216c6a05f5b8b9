// Package clock is the one clock of this module's types: each takes an optional
// `Now func() time.Time` (nil meaning the real clock), as crypto/tls does, so that tests move time
// instead of sleeping.
package clock

import "time"

// Now returns now() in UTC, or the real time in UTC when now is nil.
func Now(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}
