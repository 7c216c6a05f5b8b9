package pending

import (
	"context"
	"time"

	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/observe"
)

// Caller is who makes a guess (types a user code, presents a credential), as the limits count it: the
// client address, and the signed-in account when there is one.
type Caller struct {
	// Address is the caller's network address (the client address the server sees).
	Address string
	// Account identifies a signed-in caller (a subject, or an administrator's credential); empty for an
	// anonymous caller.
	Account string
}

// Limiter bounds guessing (RFC 8628 §5.1) without letting anyone lock out people who did nothing
// wrong. It counts failures in an AttemptStorage, so the limits hold across server instances, and
// once a count reaches its limit it refuses every attempt it covers, right or wrong, until the window
// passes:
//
//   - an anonymous caller is limited per address (PerAddress) and, with every anonymous caller,
//     in all (Global): a flood from many addresses stops anonymous guessing;
//   - a signed-in caller is limited per account (PerAccount) and, with every signed-in caller, in all
//     (GlobalSignedIn). Neither anonymous counter applies: a flood from many addresses never stops a
//     signed-in person from typing the right code, and one account's failures never stop another's.
//
// Allow and Fail are separate steps, so N guesses arriving at the same instant may pass a limit by up to
// N-1. The limit bounds sustained guessing, which is what matters against a 20^8 code space; it is not
// an exact count. A zero limit is off.
type Limiter struct {
	Storage AttemptStorage
	// Scope separates the counters of different uses (e.g. "device-user-code").
	Scope string
	Limits
	// Observer, when not nil, is told of every refusal (Scope and the counter that was full).
	Observer observe.Limits
}

// Limits are the failure limits of a Limiter. A zero limit is off.
type Limits struct {
	// PerAddress bounds an anonymous caller's failures per address.
	PerAddress int
	// Global bounds the failures of all anonymous callers together.
	Global int
	// PerAccount bounds a signed-in caller's failures per account.
	PerAccount int
	// GlobalSignedIn bounds the failures of all signed-in callers together.
	GlobalSignedIn int
	// Window is how long failures count.
	Window time.Duration
}

// DefaultUserCodeLimits are the user-code guessing limits of the device grant and the CIBA enrolment
// fallback: 20 wrong codes per address or account, 1000 in all, per 15 minutes. With 20^8 codes, an
// attacker then finds a given live code with probability below 1 in 25 million per window.
var DefaultUserCodeLimits = Limits{PerAddress: 20, Global: 1000, PerAccount: 20, GlobalSignedIn: 1000, Window: 15 * time.Minute}

// Or returns l with each zero field taken from def, and each negative limit 0 (off): in options, zero
// means "the default" and -1 means "no limit".
func (l Limits) Or(def Limits) Limits {
	pick := func(v, d int) int {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 0
		}
		return v
	}
	l.PerAddress = pick(l.PerAddress, def.PerAddress)
	l.Global = pick(l.Global, def.Global)
	l.PerAccount = pick(l.PerAccount, def.PerAccount)
	l.GlobalSignedIn = pick(l.GlobalSignedIn, def.GlobalSignedIn)
	if l.Window <= 0 {
		l.Window = def.Window
	}
	return l
}

// counters returns the counters that apply to who, with their limits.
func (l *Limiter) counters(who Caller) (keys [2]string, limits [2]int) {
	if who.Account != "" {
		return [2]string{l.Scope + "|account|" + who.Account, l.Scope + "|account|*"}, [2]int{l.PerAccount, l.GlobalSignedIn}
	}
	return [2]string{l.Scope + "|" + who.Address, l.Scope + "|*"}, [2]int{l.PerAddress, l.Global}
}

// Allow returns ErrTooManyAttempts when a counter that applies to who has reached its limit at now.
func (l *Limiter) Allow(ctx context.Context, who Caller, now time.Time) error {
	if l == nil {
		return nil
	}
	keys, limits := l.counters(who)
	for i, key := range keys {
		if limits[i] <= 0 {
			continue
		}
		n, err := l.Storage.GetAttempts(ctx, key, now, l.Window)
		if err != nil {
			return rfc6749.ServerError(err)
		}
		if n >= limits[i] {
			l.refused(ctx, who, i)
			if i == 0 {
				return ErrTooManyAttempts.WithHint("Too many wrong codes were entered from here. Try again later.")
			}
			return ErrTooManyAttempts.WithHint("Too many wrong codes were entered recently. Try again later.")
		}
	}
	return nil
}

// Fail records a failed attempt by who on every counter that applies to them.
func (l *Limiter) Fail(ctx context.Context, who Caller, now time.Time) error {
	if l == nil {
		return nil
	}
	keys, limits := l.counters(who)
	for i, key := range keys {
		if limits[i] <= 0 {
			continue
		}
		if _, err := l.Storage.IncrementAttempts(ctx, key, now, l.Window); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	return nil
}

// Remaining reports how many more failures who may have at now before Allow refuses them: the
// smallest room left on the counters that apply to who (0 once one is full). limited is false when no
// limit applies to who (every limit that would is off, or l is nil); left is then 0. It only reads the
// counts, so a page can say "N attempts left" after a wrong code (RFC 8628 §5.1 bounds the guesses; a
// person should see how many they have). Like Allow, it is not exact under concurrent failures.
func (l *Limiter) Remaining(ctx context.Context, who Caller, now time.Time) (left int, limited bool, err error) {
	if l == nil {
		return 0, false, nil
	}
	keys, limits := l.counters(who)
	for i, key := range keys {
		if limits[i] <= 0 {
			continue
		}
		n, err := l.Storage.GetAttempts(ctx, key, now, l.Window)
		if err != nil {
			return 0, false, rfc6749.ServerError(err)
		}
		room := max(limits[i]-n, 0)
		if !limited || room < left {
			left = room
		}
		limited = true
	}
	return left, limited, nil
}
