package pending

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Limiter bounds guessing (RFC 8628 §5.1): it counts failures per caller and for everyone, and once
// either count reaches its limit it refuses every attempt, right or wrong, until the window passes. The
// counts live in an AttemptStorage, so the limits hold across server instances.
//
// Allow and Fail are separate steps, so N guesses arriving at the same instant may pass a limit by up to
// N-1. The limit bounds sustained guessing, which is what matters against a 20^8 code space; it is not
// an exact count.
type Limiter struct {
	Storage AttemptStorage
	// Scope separates the counters of different uses (e.g. "device-user-code").
	Scope string
	// PerKey is the failure limit per caller (e.g. per client address). 0 disables it.
	PerKey int
	// Global is the failure limit for all callers together. 0 disables it.
	Global int
	// Window is how long failures count.
	Window time.Duration
}

const globalKey = "*"

// Allow returns ErrTooManyAttempts when key, or everyone, has reached the failure limit at now.
func (l *Limiter) Allow(ctx context.Context, key string, now time.Time) error {
	if l == nil {
		return nil
	}
	if l.PerKey > 0 {
		n, err := l.Storage.GetAttempts(ctx, l.Scope+"|"+key, now, l.Window)
		if err != nil {
			return rfc6749.ServerError(err)
		}
		if n >= l.PerKey {
			return ErrTooManyAttempts.WithHint("Too many wrong codes were entered from this address.")
		}
	}
	if l.Global > 0 {
		n, err := l.Storage.GetAttempts(ctx, l.Scope+"|"+globalKey, now, l.Window)
		if err != nil {
			return rfc6749.ServerError(err)
		}
		if n >= l.Global {
			return ErrTooManyAttempts.WithHint("Too many wrong codes were entered recently.")
		}
	}
	return nil
}

// Fail records a failed attempt by key (and for everyone).
func (l *Limiter) Fail(ctx context.Context, key string, now time.Time) error {
	if l == nil {
		return nil
	}
	if l.PerKey > 0 {
		if _, err := l.Storage.IncrementAttempts(ctx, l.Scope+"|"+key, now, l.Window); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	if l.Global > 0 {
		if _, err := l.Storage.IncrementAttempts(ctx, l.Scope+"|"+globalKey, now, l.Window); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	return nil
}
