package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/observe"
)

// Backoff computes the wait before a retry: exponential from Base, capped at Max, with "equal
// jitter" (a random point in the upper half of the interval) so that many failed messages do not
// retry in step.
type Backoff struct {
	// Base is the wait after the first failed attempt; default 5s.
	Base time.Duration
	// Max caps the wait; default 15 minutes.
	Max time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2.Float64.
	Rand func() float64
}

// Delay returns the wait after the attempt-th failed attempt (1 for the first): a duration in
// [d/2, d] where d = min(Max, Base·2^(attempt-1)).
func (b Backoff) Delay(attempt int) time.Duration {
	base, ceil := b.Base, b.Max
	if base <= 0 {
		base = 5 * time.Second
	}
	if ceil <= 0 {
		ceil = 15 * time.Minute
	}
	d := base
	for i := 1; i < attempt && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return d/2 + time.Duration(r()*float64(d/2))
}

// Worker delivers the messages of an outbox. Any number of Workers, in any number of processes, may
// drain one store: a message is leased to one Worker at a time.
//
// Delivery is at least once. A Worker that crashes after the target accepted a message but before it
// recorded the attempt leaves the message pending; once the lease expires another Worker sends it
// again. Receivers deduplicate by content (a CIBA client by auth_req_id).
//
// Each attempt is logged at Info with the message ID, kind, target host, attempt number, outcome,
// HTTP status and a short error; headers and bodies are never logged.
type Worker struct {
	// Storage is the outbox store.
	Storage Storage
	// Sealer opens sealed messages; it must have the key they were sealed with.
	Sealer *Sealer
	// Deliverer sends messages, typically a Router over a Webhook and a Notify.
	Deliverer Deliverer
	// Concurrency bounds deliveries in flight; default 4.
	Concurrency int
	// BatchSize is how many messages one claim takes; default 4·Concurrency.
	BatchSize int
	// Lease is how long a claimed message is reserved for this Worker; default 2 minutes. It must be
	// longer than the Deliverer's own timeout: a delivery is cancelled at 3/4 of the lease so that it
	// ends before another Worker may claim the message.
	Lease time.Duration
	// Backoff schedules retries.
	Backoff Backoff
	// Now is the clock for leases and schedules; nil means time.Now.
	Now func() time.Time
	// Logger receives one Info line per attempt; nil means no logging.
	Logger *slog.Logger
	// Poll is how often Run looks for due messages when not kicked; default 5 seconds.
	Poll time.Duration
	// Retention is how long Run keeps delivered and failed messages before purging them; default 7
	// days. A negative value turns purging off.
	Retention time.Duration
	// Observer, when not nil, is told about every attempt: the message kind, the outcome and how long
	// the delivery took.
	Observer observe.Outbox

	kickOnce  sync.Once
	kick      chan struct{}
	lastPurge time.Time
}

func (w *Worker) concurrency() int {
	if w.Concurrency > 0 {
		return w.Concurrency
	}
	return 4
}

func (w *Worker) lease() time.Duration {
	if w.Lease > 0 {
		return w.Lease
	}
	return 2 * time.Minute
}

func (w *Worker) kickCh() chan struct{} {
	w.kickOnce.Do(func() { w.kick = make(chan struct{}, 1) })
	return w.kick
}

// Kick wakes Run to drain the outbox now instead of at the next poll. Call it after the transaction
// that enqueued a message commits. It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kickCh() <- struct{}{}:
	default:
	}
}

// Run drains the outbox until ctx is done, then returns ctx's error: at start, every Poll, and
// whenever Kick is called. It also purges finished messages older than Retention, at most hourly.
// Errors of the store are logged and the loop goes on.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.check(); err != nil {
		return err
	}
	poll := w.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-w.kickCh():
		}
		if _, err := w.DrainOnce(ctx); err != nil && ctx.Err() == nil {
			w.log(ctx, slog.LevelError, "outbox drain failed", slog.String("error", err.Error()))
		}
		w.purge(ctx)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(poll)
	}
}

func (w *Worker) purge(ctx context.Context) {
	if w.Retention < 0 {
		return
	}
	retention := w.Retention
	if retention == 0 {
		retention = 7 * 24 * time.Hour
	}
	t := clock.Now(w.Now)
	if !w.lastPurge.IsZero() && t.Sub(w.lastPurge) < time.Hour {
		return
	}
	w.lastPurge = t
	if n, err := w.Storage.PurgeOutbox(ctx, t.Add(-retention)); err != nil {
		w.log(ctx, slog.LevelError, "outbox purge failed", slog.String("error", err.Error()))
	} else if n > 0 {
		w.log(ctx, slog.LevelInfo, "outbox purged", slog.Int("messages", n))
	}
}

func (w *Worker) check() error {
	if w.Storage == nil || w.Sealer == nil || w.Deliverer == nil {
		return errors.New("outbox: Worker needs Storage, Sealer and Deliverer")
	}
	return nil
}

// DrainOnce claims the messages due now and attempts each once (up to Concurrency at a time),
// claiming further batches while full batches come back. It returns the number of attempts made.
// Messages that fail and are due again at once (which only a zero Backoff allows) wait for the next
// call, so DrainOnce always ends.
func (w *Worker) DrainOnce(ctx context.Context) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	batch := w.BatchSize
	if batch <= 0 {
		batch = 4 * w.concurrency()
	}
	seen := map[string]bool{}
	total := 0
	for ctx.Err() == nil {
		recs, err := w.Storage.ClaimOutbox(ctx, clock.Now(w.Now), batch, w.lease())
		if err != nil {
			return total, fmt.Errorf("outbox: claim: %w", err)
		}
		sem := make(chan struct{}, w.concurrency())
		var wg sync.WaitGroup
		again := false
		for _, r := range recs {
			if seen[r.ID] {
				again = true
			}
			seen[r.ID] = true
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				w.attempt(ctx, r)
			}()
		}
		wg.Wait()
		total += len(recs)
		if len(recs) < batch || again {
			break
		}
	}
	return total, ctx.Err()
}

// attempt delivers one claimed record and records the outcome.
func (w *Worker) attempt(ctx context.Context, r Record) {
	a := Attempt{MessageID: r.ID, Number: r.Attempts, Lease: r.Lease, StartedAt: clock.Now(w.Now)}
	var (
		res Result
		err error
	)
	m, openErr := w.Sealer.Open(r)
	if openErr != nil {
		err = Permanent(openErr)
	} else {
		dctx, cancel := context.WithTimeout(ctx, w.lease()*3/4)
		res, err = w.deliver(dctx, m)
		cancel()
	}
	a.At, a.StatusCode = clock.Now(w.Now), res.StatusCode
	switch {
	case err == nil:
		a.Outcome = OutcomeDelivered
	case !Retryable(err):
		a.Outcome, a.Error = OutcomeFailed, short(err)
	case r.Attempts >= r.MaxAttempts:
		a.Outcome, a.Error = OutcomeFailed, short(fmt.Errorf("%w (gave up after %d attempts)", err, r.Attempts))
	default:
		a.Outcome, a.Error = OutcomeRetry, short(err)
		a.NextAttemptAt = a.At.Add(max(w.Backoff.Delay(r.Attempts), min(res.RetryAfter, maxRetryAfter)))
	}

	// Record the attempt even when ctx was cancelled mid-delivery (shutdown).
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cerr := w.Storage.CompleteOutbox(cctx, r.ID, a)
	if w.Observer != nil {
		w.Observer.OutboxAttempt(ctx, r.Kind, string(a.Outcome), a.At.Sub(a.StartedAt))
	}

	attrs := []slog.Attr{
		slog.String("id", r.ID), slog.String("kind", r.Kind), slog.String("target", targetHost(r.Target)),
		slog.Int("attempt", r.Attempts), slog.Int("max_attempts", r.MaxAttempts), slog.String("outcome", string(a.Outcome)),
	}
	if a.StatusCode != 0 {
		attrs = append(attrs, slog.Int("status", a.StatusCode))
	}
	if a.Error != "" {
		attrs = append(attrs, slog.String("error", a.Error))
	}
	if !a.NextAttemptAt.IsZero() {
		attrs = append(attrs, slog.Time("next_attempt_at", a.NextAttemptAt))
	}
	switch {
	case errors.Is(cerr, ErrLeaseLost):
		attrs = append(attrs, slog.String("record_error", "lease lost: the lease expired before the attempt ended; the message may be sent again"))
		w.log(ctx, slog.LevelWarn, "outbox attempt", attrs...)
	case cerr != nil:
		attrs = append(attrs, slog.String("record_error", cerr.Error()))
		w.log(ctx, slog.LevelError, "outbox attempt", attrs...)
	default:
		w.log(ctx, slog.LevelInfo, "outbox attempt", attrs...)
	}
}

// deliver calls the Deliverer, turning a panic into a permanent failure.
func (w *Worker) deliver(ctx context.Context, m Message) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{}, Permanent(fmt.Errorf("outbox: deliverer panicked (%T)", p))
		}
	}()
	return w.Deliverer.Deliver(ctx, m)
}

func (w *Worker) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if w.Logger != nil {
		w.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}

// maxErrorLen bounds the error text stored with an attempt.
const maxErrorLen = 300

func short(err error) string {
	s := err.Error()
	if len(s) > maxErrorLen {
		s = strings.ToValidUTF8(s[:maxErrorLen], "") + "…"
	}
	return s
}

// targetHost is what logs show of a target: the scheme and host of a URL, never its path or query.
func targetHost(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(unparsable)"
	}
	if u.Host == "" {
		return u.Scheme + ":" + u.Opaque
	}
	return u.Scheme + "://" + u.Host
}
