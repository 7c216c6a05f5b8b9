package outbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/fosite-contrib/grants/notify"
)

// Deliverer sends one message.
//
// Deliver must be safe for concurrent use. It returns a nil error once the target accepted the
// message. A non-nil error says whether to try again, with the contract of package notify:
// errors.Is(err, ErrPermanent) means the same message will fail the same way (the worker gives up);
// any other error is retried with backoff. Errors and Results must not contain Header or Body: the
// worker logs and stores them.
type Deliverer interface {
	Deliver(ctx context.Context, m Message) (Result, error)
}

// DelivererFunc adapts a function to Deliverer.
type DelivererFunc func(ctx context.Context, m Message) (Result, error)

// Deliver calls f(ctx, m).
func (f DelivererFunc) Deliver(ctx context.Context, m Message) (Result, error) { return f(ctx, m) }

// Result describes an attempt beyond success or failure.
type Result struct {
	// StatusCode is the HTTP status the target answered, 0 when there was no HTTP answer.
	StatusCode int
	// RetryAfter is how long the target asked to wait (HTTP Retry-After), 0 when it did not.
	RetryAfter time.Duration
}

// ErrPermanent marks a delivery failure that must not be retried. It is notify.ErrPermanent, so
// errors of notify Senders keep their meaning; mark your own with Permanent.
var ErrPermanent = notify.ErrPermanent

// ErrNoRoute is returned (permanent) by Router for a message it has no Deliverer for.
var ErrNoRoute = errors.New("outbox: no deliverer for message")

// Permanent marks err as permanent (errors.Is(err, ErrPermanent)). Permanent(nil) is nil.
func Permanent(err error) error { return notify.Permanent(err) }

// Retryable reports whether a delivery that failed with err may succeed when tried again.
func Retryable(err error) bool { return notify.Retryable(err) }

// Router delivers each message with the Deliverer for its Kind, else the one for its Target's URL
// scheme ("https", "notify", ...).
type Router struct {
	ByKind   map[string]Deliverer
	ByScheme map[string]Deliverer
}

var _ Deliverer = Router{}

// Deliver implements Deliverer. A message nobody handles fails permanently with ErrNoRoute.
func (r Router) Deliver(ctx context.Context, m Message) (Result, error) {
	if d, ok := r.ByKind[m.Kind]; ok && d != nil {
		return d.Deliver(ctx, m)
	}
	if u, err := url.Parse(m.Target); err == nil {
		if d, ok := r.ByScheme[u.Scheme]; ok && d != nil {
			return d.Deliver(ctx, m)
		}
	}
	return Result{}, Permanent(fmt.Errorf("%w: kind %q", ErrNoRoute, m.Kind))
}
