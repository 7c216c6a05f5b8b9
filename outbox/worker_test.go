package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/storage/memory"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is an injected clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a log destination safe for the worker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	store  *memory.MemoryStore
	queue  *outbox.Queue
	clock  *clock
	logs   *syncBuffer
	sealer *outbox.Sealer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: memory.New(), clock: &clock{now: t0}, logs: &syncBuffer{}, sealer: mustSealer(t, secret)}
	e.queue = &outbox.Queue{Storage: e.store, Sealer: e.sealer, Now: e.clock.Now}
	return e
}

// worker returns a worker on the env's store that delivers webhooks to rc.
func (e *env) worker(d outbox.Deliverer) *outbox.Worker {
	return &outbox.Worker{
		Storage: e.store, Sealer: e.sealer, Deliverer: d, Now: e.clock.Now,
		Lease:   time.Minute,
		Backoff: outbox.Backoff{Base: 10 * time.Second, Max: time.Minute},
		Logger:  slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
}

func (e *env) drain(t *testing.T, w *outbox.Worker) int {
	t.Helper()
	n, err := w.DrainOnce(context.Background())
	require.NoError(t, err)
	return n
}

func (e *env) record(t *testing.T, id string) outbox.Record {
	t.Helper()
	r, err := e.store.GetOutbox(context.Background(), id)
	require.NoError(t, err)
	return r
}

func (e *env) attempts(t *testing.T, id string) []outbox.Attempt {
	t.Helper()
	a, err := e.store.ListOutboxAttempts(context.Background(), id)
	require.NoError(t, err)
	return a
}

func outcomes(as []outbox.Attempt) []string {
	var out []string
	for _, a := range as {
		out = append(out, string(a.Outcome))
	}
	return out
}

func TestWorkerDelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, true, nil)
	w := e.worker(rc.webhook(true))
	require.NoError(t, e.queue.Enqueue(context.Background(), ping("ciba.ping:r1", rc.URL+"/cb")))

	require.Equal(t, 1, e.drain(t, w))
	got := <-rc.got
	require.Equal(t, "Bearer client-notification-token-ciba.ping:r1", got.Authorization)
	require.JSONEq(t, `{"auth_req_id":"ciba.ping:r1"}`, got.Body)
	require.Equal(t, outbox.StateDelivered, e.record(t, "ciba.ping:r1").State)
	as := e.attempts(t, "ciba.ping:r1")
	require.Equal(t, []string{"delivered"}, outcomes(as))
	require.Equal(t, 204, as[0].StatusCode)

	e.clock.Add(24 * time.Hour)
	require.Zero(t, e.drain(t, w), "delivered once")
	require.EqualValues(t, 1, rc.hits.Load())

	logs := e.logs.String()
	require.Contains(t, logs, `"id":"ciba.ping:r1"`)
	require.Contains(t, logs, `"outcome":"delivered"`)
	require.Contains(t, logs, `"status":204`)
	require.NotContains(t, logs, "client-notification-token", "no secret in logs")
	require.NotContains(t, logs, "auth_req_id", "no body in logs")
	require.NotContains(t, logs, "/cb", "only the target's host is logged")
}

func TestWorkerRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	codes := []int{500, 429, 204}
	rc := newReceiver(t, true, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		code := codes[0]
		codes = codes[1:]
		mu.Unlock()
		w.WriteHeader(code)
	})
	w := e.worker(rc.webhook(true))
	require.NoError(t, e.queue.Enqueue(context.Background(), ping("m", rc.URL)))

	require.Equal(t, 1, e.drain(t, w))
	r := e.record(t, "m")
	require.Equal(t, outbox.StatePending, r.State)
	require.Contains(t, r.LastError, "HTTP 500")
	// First retry after Backoff.Delay(1): between Base/2 and Base.
	require.False(t, r.NextAttemptAt.Before(t0.Add(5*time.Second)))
	require.False(t, r.NextAttemptAt.After(t0.Add(10*time.Second)))
	require.Zero(t, e.drain(t, w), "not due yet")

	e.clock.Add(10 * time.Second)
	require.Equal(t, 1, e.drain(t, w))
	require.Equal(t, outbox.StatePending, e.record(t, "m").State)

	e.clock.Add(time.Minute)
	require.Equal(t, 1, e.drain(t, w))
	require.Equal(t, outbox.StateDelivered, e.record(t, "m").State)
	require.EqualValues(t, 3, rc.hits.Load())
	as := e.attempts(t, "m")
	require.Equal(t, []string{"retry", "retry", "delivered"}, outcomes(as))
	require.Equal(t, []int{500, 429, 204}, []int{as[0].StatusCode, as[1].StatusCode, as[2].StatusCode})
	require.Equal(t, []int{1, 2, 3}, []int{as[0].Number, as[1].Number, as[2].Number})
}

func TestWorkerDoesNotRetryPermanentFailures(t *testing.T) {
	t.Parallel()
	for _, code := range []int{301, 401, 403, 400} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			elsewhere := newReceiver(t, true, nil)
			rc := newReceiver(t, true, status(code, "", "Location", elsewhere.URL))
			w := e.worker(rc.webhook(true))
			require.NoError(t, e.queue.Enqueue(context.Background(), ping("m", rc.URL)))
			require.Equal(t, 1, e.drain(t, w))
			for i := 0; i < 5; i++ {
				e.clock.Add(time.Hour)
				require.Zero(t, e.drain(t, w))
			}
			require.EqualValues(t, 1, rc.hits.Load(), "no retry")
			require.Zero(t, elsewhere.hits.Load(), "no redirect followed")
			r := e.record(t, "m")
			require.Equal(t, outbox.StateFailed, r.State)
			require.Equal(t, []string{"failed"}, outcomes(e.attempts(t, "m")))
			require.Equal(t, code, e.attempts(t, "m")[0].StatusCode)
		})
	}
}

func TestWorkerRetriesNetworkErrorsUpToMaxAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, true, nil)
	target := rc.URL
	rc.Close()
	w := e.worker(rc.webhook(true))
	m := ping("m", target)
	m.MaxAttempts = 3
	require.NoError(t, e.queue.Enqueue(context.Background(), m))
	for i := 0; i < 3; i++ {
		require.Equal(t, 1, e.drain(t, w), "attempt %d", i+1)
		e.clock.Add(time.Minute)
	}
	require.Zero(t, e.drain(t, w))
	r := e.record(t, "m")
	require.Equal(t, outbox.StateFailed, r.State)
	require.Contains(t, r.LastError, "gave up after 3 attempts")
	require.Equal(t, []string{"retry", "retry", "failed"}, outcomes(e.attempts(t, "m")))
}

// TestWorkerCrashSafety: a worker claims a message and dies before recording anything. Another
// worker delivers it once the lease expires, and only then.
func TestWorkerCrashSafety(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, true, nil)
	require.NoError(t, e.queue.Enqueue(context.Background(), ping("m", rc.URL)))

	// The first worker claims the message and "crashes": it never completes it.
	crashed, err := e.store.ClaimOutbox(context.Background(), e.clock.Now(), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, crashed, 1)

	w := e.worker(rc.webhook(true))
	e.clock.Add(59 * time.Second)
	require.Zero(t, e.drain(t, w), "the lease still holds")
	e.clock.Add(time.Second)
	require.Equal(t, 1, e.drain(t, w))
	require.Equal(t, outbox.StateDelivered, e.record(t, "m").State)
	e.clock.Add(time.Hour)
	require.Zero(t, e.drain(t, w))
	require.EqualValues(t, 1, rc.hits.Load(), "delivered once")
	as := e.attempts(t, "m")
	require.Len(t, as, 1)
	require.Equal(t, 2, as[0].Number, "the crashed attempt counts")
}

func TestWorkerRunDeliversOnKick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, true, nil)
	w := e.worker(rc.webhook(true))
	w.Poll = time.Hour // only Kick can wake it within the test
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	for _, id := range []string{"a", "b"} {
		require.NoError(t, e.queue.Enqueue(ctx, ping(id, rc.URL)))
		w.Kick()
		got := <-rc.got
		require.JSONEq(t, `{"auth_req_id":"`+id+`"}`, got.Body)
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestWorkerFailsMessagesItCannotOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t, true, nil)
	require.NoError(t, e.queue.Enqueue(context.Background(), ping("m", rc.URL)))
	w := e.worker(rc.webhook(true))
	w.Sealer = mustSealer(t, secret2)
	require.Equal(t, 1, e.drain(t, w))
	r := e.record(t, "m")
	require.Equal(t, outbox.StateFailed, r.State)
	require.Contains(t, r.LastError, "cannot open")
	require.Zero(t, rc.hits.Load())
}

func TestWorkerSurvivesDelivererPanic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.NoError(t, e.queue.Enqueue(context.Background(), ping("m", "https://client.example/")))
	w := e.worker(outbox.DelivererFunc(func(context.Context, outbox.Message) (outbox.Result, error) {
		panic("secret value must not be logged")
	}))
	require.Equal(t, 1, e.drain(t, w))
	require.Equal(t, outbox.StateFailed, e.record(t, "m").State)
	require.NotContains(t, e.logs.String(), "secret value")
}

func TestWorkerNeedsItsParts(t *testing.T) {
	t.Parallel()
	_, err := (&outbox.Worker{}).DrainOnce(context.Background())
	require.Error(t, err)
	require.Error(t, (&outbox.Worker{}).Run(context.Background()))
}

func TestWorkerPurgesFinishedMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	delivered := make(chan string, 10)
	w := e.worker(outbox.DelivererFunc(func(_ context.Context, m outbox.Message) (outbox.Result, error) {
		delivered <- m.ID
		return outbox.Result{}, nil
	}))
	w.Retention = time.Hour
	w.Poll = time.Hour
	require.NoError(t, e.queue.Enqueue(context.Background(), ping("old", "https://client.example/")))
	require.Equal(t, 1, e.drain(t, w))
	require.Equal(t, "old", <-delivered)
	e.clock.Add(2 * time.Hour)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// Each round of Run drains, then purges. "second" is enqueued after "first" was delivered, so it
	// is delivered in a later round: by then the first round's purge has run.
	for _, id := range []string{"first", "second"} {
		require.NoError(t, e.queue.Enqueue(ctx, ping(id, "https://client.example/")))
		w.Kick()
		require.Equal(t, id, <-delivered)
	}
	cancel()
	<-done
	_, err := e.store.GetOutbox(context.Background(), "old")
	require.ErrorIs(t, err, outbox.ErrNotFound, "finished longer than Retention ago")
	require.Equal(t, outbox.StateDelivered, e.record(t, "first").State, "recent messages are kept")
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	low := outbox.Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return 0 }}
	high := outbox.Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return 0.999999 }}
	for _, tc := range []struct {
		attempt int
		ceil    time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {7, time.Minute}, {100, time.Minute}} {
		require.Equal(t, tc.ceil/2, low.Delay(tc.attempt), "attempt %d", tc.attempt)
		require.InDelta(t, float64(tc.ceil), float64(high.Delay(tc.attempt)), float64(time.Millisecond), "attempt %d", tc.attempt)
	}
	d := outbox.Backoff{}.Delay(1)
	require.True(t, d >= 2500*time.Millisecond && d <= 5*time.Second, "defaults: base 5s, got %s", d)
}

func TestNotifyThroughTheOutbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sent := notify.NewOutbox(10)
	w := e.worker(outbox.Router{
		ByScheme: map[string]outbox.Deliverer{outbox.NotifyScheme: outbox.Notify{Sender: sent}},
	})
	alert := notify.Message{To: "ana@example.com", Channel: notify.Email, Subject: "New sign-in", Text: "A TV signed in as you."}
	m, err := outbox.NotifyMessage("device.alert:grant-1", outbox.KindDeviceAlert, alert)
	require.NoError(t, err)
	require.Equal(t, "notify:email", m.Target, "the address is not stored in the clear")
	require.NoError(t, e.queue.Enqueue(context.Background(), m))
	r := e.record(t, "device.alert:grant-1")
	require.False(t, bytes.Contains(r.Sealed, []byte("ana@example.com")))

	require.Equal(t, 1, e.drain(t, w))
	require.Len(t, sent.Messages(), 1)
	require.Equal(t, "ana@example.com", sent.Messages()[0].To)
	require.Equal(t, "A TV signed in as you.", sent.Messages()[0].Text)
	require.Equal(t, outbox.StateDelivered, e.record(t, "device.alert:grant-1").State)

	_, err = outbox.NotifyMessage("x", outbox.KindDeviceAlert, notify.Message{Channel: notify.Email, To: "not an address", Text: "x"})
	require.ErrorIs(t, err, notify.ErrInvalidMessage)
}

func TestNotifyClassifiesSenderErrors(t *testing.T) {
	t.Parallel()
	body, err := json.Marshal(notify.Message{To: "+14155550100", Channel: notify.SMS, Text: "code 123456"})
	require.NoError(t, err)
	m := outbox.Message{ID: "x", Kind: "otp", Target: "notify:sms", Body: body}
	for _, tc := range []struct {
		name      string
		sendErr   error
		retryable bool
	}{
		{"permanent", notify.Permanent(notify.ErrUnknownChannel), false},
		{"temporary", notify.Temporary(context.DeadlineExceeded), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := outbox.Notify{Sender: notify.SenderFunc(func(context.Context, notify.Message) error { return tc.sendErr })}
			_, err := d.Deliver(context.Background(), m)
			require.Equal(t, tc.retryable, outbox.Retryable(err))
		})
	}
	_, err = outbox.Notify{Sender: notify.NewOutbox(1)}.Deliver(context.Background(), outbox.Message{Body: []byte("not json")})
	require.ErrorIs(t, err, outbox.ErrPermanent)
}

func TestRouter(t *testing.T) {
	t.Parallel()
	hit := ""
	d := func(name string) outbox.Deliverer {
		return outbox.DelivererFunc(func(context.Context, outbox.Message) (outbox.Result, error) { hit = name; return outbox.Result{}, nil })
	}
	r := outbox.Router{
		ByKind:   map[string]outbox.Deliverer{outbox.KindCIBAPush: d("push")},
		ByScheme: map[string]outbox.Deliverer{"https": d("https"), "notify": d("notify")},
	}
	for _, tc := range []struct{ kind, target, want string }{
		{outbox.KindCIBAPush, "https://a.example/", "push"},
		{outbox.KindCIBAPing, "https://a.example/", "https"},
		{outbox.KindDeviceAlert, "notify:email", "notify"},
	} {
		hit = ""
		_, err := r.Deliver(context.Background(), outbox.Message{Kind: tc.kind, Target: tc.target})
		require.NoError(t, err)
		require.Equal(t, tc.want, hit)
	}
	_, err := r.Deliver(context.Background(), outbox.Message{Kind: "x", Target: "ftp://a.example/"})
	require.ErrorIs(t, err, outbox.ErrNoRoute)
	require.False(t, outbox.Retryable(err))
}

func TestQueueValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, m := range map[string]outbox.Message{
		"no ID":                   {Kind: "k", Target: "https://a.example/"},
		"no kind":                 {ID: "i", Target: "https://a.example/"},
		"no target":               {ID: "i", Kind: "k"},
		"target without a scheme": {ID: "i", Kind: "k", Target: "a.example"},
		"header injection":        {ID: "i", Kind: "k", Target: "https://a.example/", Header: map[string]string{"X": "a\r\nB: c"}},
		"negative attempts":       {ID: "i", Kind: "k", Target: "https://a.example/", MaxAttempts: -1},
	} {
		require.Error(t, e.queue.Enqueue(context.Background(), m), name)
	}
	_, err := e.store.GetOutbox(context.Background(), "i")
	require.ErrorIs(t, err, outbox.ErrNotFound)
	require.Error(t, (&outbox.Queue{}).Enqueue(context.Background(), ping("p", "https://a.example/")))
}
