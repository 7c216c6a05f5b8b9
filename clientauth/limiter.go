package clientauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/observe"
)

// Defaults of Limiter; each applies when the field is zero.
const (
	// DefaultPerAddress is how many failed client authentications one network address may make per
	// window before its attempts that need a hash or a signature are refused.
	DefaultPerAddress = 20
	// DefaultPerClient is how many failed authentications one client ID may see per window, from all
	// addresses together, before secrets this server has not verified recently are refused for it.
	DefaultPerClient = 100
	// DefaultWindow is how long failures count: fixed windows starting at a key's first failure.
	DefaultWindow = 15 * time.Minute
	// DefaultRemember is how long an address keeps the right to a secret check for a client once the
	// client authenticated from it with a checked secret (between one and two times this).
	DefaultRemember = 24 * time.Hour
)

// Limiter is a fosite.ClientAuthenticationStrategy that counts failed client authentications (RFC 6749
// §2.3) per client ID and per client network address, and refuses, cheaply, the attempts that would
// cost a hash computation or a signature verification once a limit is reached. It also refuses a
// request that uses more than one authentication method (RFC 6749 §2.3) or names two different
// clients. See the package documentation for the rules, the limits and why the legitimate client keeps
// working.
//
// Install it as fosite's ClientAuthenticationStrategy, with fosite's own strategy as Next and a
// CachingHasher as fosite's ClientSecretsHasher (see the package example).
//
// Set the fields before first use and do not change them afterwards. A Limiter is safe for concurrent
// use.
type Limiter struct {
	// Next authenticates the client: fosite's DefaultClientAuthenticationStrategy, or any strategy that
	// compares secrets with the CachingHasher fosite is configured with. Required. At this module's own
	// endpoints (device authorization, CIBA, OTP) their provider's default strategy is used instead, so
	// that a client assertion may name the endpoint as its audience.
	Next fosite.ClientAuthenticationStrategy

	// Storage keeps the counters, so that the limits hold across server instances. Required.
	Storage pending.AttemptStorage

	// PerAddress is the failure limit per network address per Window. Zero means DefaultPerAddress; a
	// negative value disables it.
	PerAddress int

	// PerClient is the failure limit per client ID per Window, all addresses together. Zero means
	// DefaultPerClient; a negative value disables it.
	PerClient int

	// Window is how long failures count. Zero means DefaultWindow.
	Window time.Duration

	// Remember is how long an address from which a client authenticated with a checked secret stays
	// exempt from that client's limit. Zero means DefaultRemember; a negative value turns the exemption
	// off.
	Remember time.Duration

	// Address returns the key a request is counted under. Nil means the host of Request.RemoteAddr, with
	// IPv6 addresses shortened to their /64 network (one subscriber usually holds a whole /64). Behind a
	// reverse proxy, return the client address the proxy reports, as far as you trust it.
	Address func(*http.Request) string

	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// Observer, when not nil, is told of every refusal, as limiter "client-auth" with the counter
	// "address" or "client" that was full.
	Observer observe.Limits

	blocked blockedAddresses
}

// Key prefixes in AttemptStorage.
const (
	keyAddress = "client-auth|addr|"
	keyClient  = "client-auth|client|"
	keyKnown   = "client-auth|known|"
)

var errLimiterConfig = errors.New("clientauth: Limiter.Next and Limiter.Storage are required")

// AuthenticateClient implements fosite.ClientAuthenticationStrategy. It refuses with invalid_request a
// request using two authentication methods or naming two clients (RFC 6749 §2.3); with
// temporarily_unavailable (429) an attempt over a limit that is not a secret this server verified
// recently; and otherwise returns what Next returns, counting Next's failures.
func (l *Limiter) AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	next := l.Next
	if d := rfc6749.DefaultStrategy(ctx); d != nil {
		// An endpoint of this module (device authorization, CIBA, OTP) serves the request: its provider
		// accepts its own URL as a client assertion's audience.
		next = d
	}
	if next == nil || l.Storage == nil {
		return nil, fosite.ErrServerError.WithWrap(errLimiterConfig).WithDebug(errLimiterConfig.Error())
	}
	cred, err := readCredentials(r, form)
	if err != nil {
		return nil, err
	}
	if cred.method == methodNone {
		// Nothing to guess: Next answers (fosite: invalid_request, credentials missing).
		return next(ctx, r, form)
	}
	a := &attempt{l: l, r: r, clientID: cred.clientID, now: l.now(), addressCount: -1, clientCount: -1}
	if cred.method == methodAssertion && l.blocked.suspect(a.addr(), a.now) {
		// Verifying an assertion costs a signature check and may fetch the client's keys: an address
		// over its limit is refused before that. Only addresses this process saw at their limit are
		// looked up, so that valid assertions cost no extra read.
		if err := a.checkAddress(ctx); err != nil {
			return nil, err
		}
	}

	client, err := next(context.WithValue(ctx, attemptKey{}, a), r, form)
	if err == nil {
		if a.computed {
			if err := a.rememberAddress(ctx); err != nil {
				return nil, err
			}
		}
		return client, nil
	}
	if a.refused != nil {
		if a.refusedByClient {
			// An attempt the client limit refused still counts against its address, so that one address
			// cannot keep trying for ever, even cheaply.
			if err := a.countAddress(ctx); err != nil {
				return nil, err
			}
		}
		return nil, a.refused
	}
	if code := fosite.ErrorToRFC6749Error(err).CodeField; code < 400 || code >= 500 {
		return nil, err // the server's trouble, not the client's failure
	}
	if err := a.countAddress(ctx); err != nil {
		return nil, err
	}
	// A client ID nobody registered is not counted: there is no secret to protect, and counting it
	// would let anyone create counters at will.
	if !errors.Is(err, fosite.ErrNotFound) {
		if err := a.countClient(ctx); err != nil {
			return nil, err
		}
	}
	if cred.method == methodAssertion && errors.Is(err, fosite.ErrInvalidRequest) {
		// fosite v0.49.0 answers some client assertions it cannot verify (a key ID its key set does not
		// hold, no key for signatures) with invalid_request; RFC 7523 §3.2 makes every invalid client
		// JWT invalid_client.
		return nil, fosite.ErrInvalidClient.WithHint("The client assertion could not be verified.").WithWrap(err).
			WithDebug(fosite.ErrorToRFC6749Error(err).GetDescription())
	}
	return nil, err
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) address(r *http.Request) string {
	if l.Address != nil {
		return l.Address(r)
	}
	return remoteNetwork(r)
}

func (l *Limiter) window() time.Duration {
	if l.Window > 0 {
		return l.Window
	}
	return DefaultWindow
}

// limit returns v, or def when v is zero; a negative v means no limit (0).
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (l *Limiter) remember() time.Duration {
	switch {
	case l.Remember == 0:
		return DefaultRemember
	case l.Remember < 0:
		return 0
	}
	return l.Remember
}

// attemptKey is the context key under which a Limiter hands the current attempt to CachingHasher.
type attemptKey struct{}

// attempt is one client authentication under a Limiter. CachingHasher asks it, through the request's
// context, before it computes a hash (permit); the Limiter then reads what happened.
type attempt struct {
	l        *Limiter
	r        *http.Request
	clientID string
	now      time.Time
	address  string // see addr

	once sync.Once
	err  error // permit's decision

	computed        bool // a hash computation was permitted
	refused         error
	refusedByClient bool
	addressCount    int // -1: not read yet
	clientCount     int // -1: not read yet
}

// addr returns the address the attempt counts under, worked out when first needed (a cached secret
// never needs it).
func (a *attempt) addr() string {
	if a.address == "" {
		a.address = a.l.address(a.r)
	}
	return a.address
}

// permit reports whether a hash may be computed for this attempt: nil, or the error to fail with. It
// decides once per attempt (fosite compares a secret with the current hash and then each rotated one).
func (a *attempt) permit(ctx context.Context) error {
	a.once.Do(func() { a.err = a.decide(ctx) })
	return a.err
}

func (a *attempt) decide(ctx context.Context) error {
	if err := a.checkAddress(ctx); err != nil {
		return err
	}
	if max := limit(a.l.PerClient, DefaultPerClient); max > 0 && a.clientID != "" {
		n, err := a.l.Storage.GetAttempts(ctx, keyClient+a.clientID, a.now, a.l.window())
		if err != nil {
			return a.storageError(err)
		}
		a.clientCount = n
		if n >= max {
			known, err := a.knownAddress(ctx)
			if err != nil {
				return a.storageError(err)
			}
			if !known {
				a.refused = pending.ErrTooManyAttempts.WithHint("Too many failed authentications for this client.")
				a.refusedByClient = true
				a.l.refused(ctx, "client")
				return a.refused
			}
		}
	}
	a.computed = true
	return nil
}

// checkAddress refuses the attempt when its address has reached its limit.
func (a *attempt) checkAddress(ctx context.Context) error {
	max := limit(a.l.PerAddress, DefaultPerAddress)
	if max == 0 {
		return nil
	}
	n, err := a.l.Storage.GetAttempts(ctx, keyAddress+a.addr(), a.now, a.l.window())
	if err != nil {
		return a.storageError(err)
	}
	a.addressCount = n
	a.l.blocked.observe(a.addr(), n >= max, a.now, a.l.window())
	if n >= max {
		a.refused = pending.ErrTooManyAttempts.WithHint("Too many failed client authentications from this address.")
		a.l.refused(ctx, "address")
		return a.refused
	}
	return nil
}

func (a *attempt) storageError(err error) error {
	a.refused = fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	return a.refused
}

// countAddress records a failure of the address, unless it is already at its limit (a refused address
// then costs one read per request, not a write).
func (a *attempt) countAddress(ctx context.Context) error {
	max := limit(a.l.PerAddress, DefaultPerAddress)
	if max == 0 {
		return nil
	}
	if err := a.count(ctx, keyAddress+a.addr(), max, &a.addressCount); err != nil {
		return err
	}
	a.l.blocked.observe(a.addr(), a.addressCount >= max, a.now, a.l.window())
	return nil
}

// countClient records a failure of the client, unless it is already at its limit.
func (a *attempt) countClient(ctx context.Context) error {
	max := limit(a.l.PerClient, DefaultPerClient)
	if max == 0 || a.clientID == "" {
		return nil
	}
	return a.count(ctx, keyClient+a.clientID, max, &a.clientCount)
}

// count records a failure under key unless the count, read into *n if not known yet, is already at
// max; *n is the count afterwards.
func (a *attempt) count(ctx context.Context, key string, max int, n *int) error {
	var err error
	if *n < 0 {
		if *n, err = a.l.Storage.GetAttempts(ctx, key, a.now, a.l.window()); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	if *n >= max {
		return nil
	}
	if *n, err = a.l.Storage.IncrementAttempts(ctx, key, a.now, a.l.window()); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return nil
}

// knownKeys returns the keys of this client and address in the current and the previous period of
// length Remember. A mark lives in the period it was made in and is read during that period and the
// next, so it counts for between one and two periods; a client that keeps authenticating keeps renewing
// it.
func (a *attempt) knownKeys(period time.Duration) (current, previous string) {
	n := a.now.UnixNano() / int64(period)
	// The address goes first, with its length, so that client IDs holding "|" cannot collide.
	address := a.addr()
	key := func(n int64) string {
		return keyKnown + strconv.FormatInt(n, 10) + "|" + strconv.Itoa(len(address)) + "|" + address + "|" + a.clientID
	}
	return key(n), key(n - 1)
}

// knownAddress reports whether the client authenticated with a checked secret from this address in
// the last one to two Remember periods.
func (a *attempt) knownAddress(ctx context.Context) (bool, error) {
	period := a.l.remember()
	if period == 0 {
		return false, nil
	}
	current, previous := a.knownKeys(period)
	for _, k := range []string{current, previous} {
		n, err := a.l.Storage.GetAttempts(ctx, k, a.now, 2*period)
		if err != nil || n > 0 {
			return n > 0, err
		}
	}
	return false, nil
}

// rememberAddress marks the address as one the client authenticated from with a checked secret (once
// per period: a read, and a write only when the mark is missing).
func (a *attempt) rememberAddress(ctx context.Context) error {
	period := a.l.remember()
	if period == 0 || a.clientID == "" {
		return nil
	}
	current, _ := a.knownKeys(period)
	n, err := a.l.Storage.GetAttempts(ctx, current, a.now, 2*period)
	if err == nil && n == 0 {
		_, err = a.l.Storage.IncrementAttempts(ctx, current, a.now, 2*period)
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(fmt.Sprintf("clientauth: remember the address: %v", err))
	}
	return nil
}

// permitHash asks the Limiter attempt carried by ctx, if any, whether a hash may be computed.
func permitHash(ctx context.Context) error {
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		return a.permit(ctx)
	}
	return nil
}

// maxBlocked bounds how many blocked addresses a Limiter remembers in memory.
const maxBlocked = 4096

// blockedAddresses remembers, in this process, the addresses seen at their failure limit, so that a
// client assertion from any other address needs no read of the counters before it is verified. It is
// a hint: a remembered address is still looked up in the store, and an address blocked through another
// instance is found out at its first failure here. When full of unexpired entries it stops
// remembering and calls every address a suspect, which costs a read but never lets one through.
type blockedAddresses struct {
	mu    sync.Mutex
	until map[string]time.Time
	full  bool
}

// suspect reports whether the address may be at its limit.
func (b *blockedAddresses) suspect(address string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.full {
		return true
	}
	until, ok := b.until[address]
	return ok && now.Before(until)
}

// observe records what the store said about the address: at its limit (remembered for a window, the
// longest its count can still last) or not (forgotten).
func (b *blockedAddresses) observe(address string, blocked bool, now time.Time, window time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.until == nil {
		b.until = map[string]time.Time{}
	}
	if _, known := b.until[address]; b.full || (blocked && !known && len(b.until) >= maxBlocked) {
		for a, until := range b.until {
			if !now.Before(until) {
				delete(b.until, a)
			}
		}
		b.full = len(b.until) >= maxBlocked
	}
	if !blocked {
		delete(b.until, address)
		b.full = b.full && len(b.until) >= maxBlocked
		return
	}
	if _, known := b.until[address]; known || !b.full {
		b.until[address] = now.Add(window)
	}
}

// limiterName is the limiter name a Limiter reports refusals under (observe.Limits).
const limiterName = "client-auth"

// refused tells the Observer that counter refused an attempt.
func (l *Limiter) refused(ctx context.Context, counter string) {
	if l.Observer != nil {
		l.Observer.LimitRefused(ctx, limiterName, counter)
	}
}
