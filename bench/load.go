package main

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is one request shape: a URL, an optional Basic header, and the body of request i.
type target struct {
	url   string
	basic string // "" or the value of the Authorization header
	body  func(i int) []byte
}

// result is one measured run.
type result struct {
	Requests   int            `json:"requests"`
	Seconds    float64        `json:"seconds"`
	RPS        float64        `json:"rps"`
	P50ms      float64        `json:"p50_ms"`
	P99ms      float64        `json:"p99_ms"`
	Codes      map[string]int `json:"codes"`
	Errors     int            `json:"transport_errors"`
	ServerCPU  float64        `json:"server_cpu_seconds"`
	CPUPerReq  float64        `json:"server_cpu_us_per_request"`
	ServerUtil float64        `json:"server_cpu_utilisation"`
	// PGCPUPerReq is the CPU time of the PostgreSQL backends serving the example server, per request
	// (0 when not measured).
	PGCPUPerReq float64 `json:"postgres_cpu_us_per_request,omitempty"`
}

func newClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// errorCode returns the "error" member of an OAuth JSON error body, cheaply and without a JSON decoder.
func errorCode(body []byte) string {
	i := bytes.Index(body, []byte(`"error":`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(body[i+len(`"error":`):], " ")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	rest = rest[1:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// statusKey is "200", or "400 authorization_pending" for an error answer.
func statusKey(status int, body []byte) string {
	if status >= 400 {
		if e := errorCode(body); e != "" {
			return fmt.Sprintf("%d %s", status, e)
		}
	}
	return fmt.Sprint(status)
}

// do sends one POST and returns its status key.
func do(ctx context.Context, c *http.Client, t target, i int, buf *bytes.Buffer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body(i)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if t.basic != "" {
		req.Header.Set("Authorization", t.basic)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	buf.Reset()
	_, err = io.Copy(buf, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	return statusKey(resp.StatusCode, buf.Bytes()), nil
}

// useRawClient selects the raw HTTP/1.1 client (see rawConn) over net/http for measured requests.
var useRawClient = true

// newSender returns a function that sends request i of t on a connection of its own (raw client) or
// through c (net/http), and a function that releases the connection.
func newSender(c *http.Client, t target) (func(ctx context.Context, i int) (string, error), func()) {
	if !useRawClient {
		var buf bytes.Buffer
		return func(ctx context.Context, i int) (string, error) { return do(ctx, c, t, i, &buf) }, func() {}
	}
	rc, err := newRawConn(t.url, t.basic)
	if err != nil {
		return func(context.Context, int) (string, error) { return "", err }, func() {}
	}
	return func(ctx context.Context, i int) (string, error) {
		status, body, err := rc.post(ctx, t.body(i))
		if err != nil {
			return "", err
		}
		return statusKey(status, body), nil
	}, rc.close
}

// closedLoop sends n requests over conns connections, each connection sending its next request as soon
// as the previous answer arrived (what hey does), and measures them.
func closedLoop(ctx context.Context, c *http.Client, conns, n int, t target, cpu func() float64) result {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[string]int{}
	errs := 0
	var wg sync.WaitGroup
	c0 := cpu()
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			lerr := 0
			send, done := newSender(c, t)
			defer done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				k, err := send(ctx, i)
				lat[i] = time.Since(t0)
				if err != nil {
					lerr++
					continue
				}
				local[k]++
			}
			mu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			errs += lerr
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarise(lat, codes, errs, elapsed, cpu()-c0)
}

// fleet polls count codes the way RFC 8628 §3.5 clients do: each code's first poll at its own phase
// within period, and each next poll period after the previous answer arrived. The offered rate is at
// most count/period; the achieved rate shows whether the server (or this generator) kept up. Latency
// is from send to answer.
func fleet(ctx context.Context, c *http.Client, conns, count int, period, d time.Duration, t target, cpu func() float64) result {
	type job struct {
		i   int
		due time.Time
	}
	var (
		mu    sync.Mutex
		queue jobHeap
	)
	start := time.Now()
	end := start.Add(d)
	step := period / time.Duration(count)
	for i := 0; i < count; i++ {
		queue = append(queue, jobItem{i: i, due: start.Add(time.Duration(i) * step)})
	}
	heap.Init(&queue)
	jobs := make(chan job, conns)
	var lmu sync.Mutex
	codes := map[string]int{}
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			var llat []time.Duration
			lerr := 0
			send, done := newSender(c, t)
			defer done()
			for j := range jobs {
				t0 := time.Now()
				k, err := send(ctx, j.i)
				llat = append(llat, time.Since(t0))
				if err != nil {
					lerr++
				} else {
					local[k]++
				}
				// Due a whole period from now, so never before what the dispatcher waits for: no need
				// to wake it.
				mu.Lock()
				heap.Push(&queue, jobItem{i: j.i, due: time.Now().Add(period)})
				mu.Unlock()
			}
			lmu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			lat = append(lat, llat...)
			errs += lerr
			lmu.Unlock()
		}()
	}
	c0 := cpu()
	timer := time.NewTimer(0)
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		mu.Lock()
		var next time.Time
		var due []jobItem
		for queue.Len() > 0 && !queue[0].due.After(now) {
			due = append(due, heap.Pop(&queue).(jobItem))
		}
		if queue.Len() > 0 {
			next = queue[0].due
		}
		mu.Unlock()
		for _, it := range due {
			jobs <- job(it)
		}
		// Wake at most once a millisecond: with 100,000 codes a poll falls due every 50 µs, and a timer
		// per poll would make this dispatcher, not the server, the limit. A poll goes out at most 1 ms
		// late, against an interval of seconds.
		wait := 50 * time.Millisecond
		if !next.IsZero() && time.Until(next) < wait {
			wait = max(time.Until(next), time.Millisecond)
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	return summarise(lat, codes, errs, elapsed, cpu()-c0)
}

type jobItem struct {
	i   int
	due time.Time
}

// jobHeap orders polls by when they are due (container/heap).
type jobHeap []jobItem

func (h jobHeap) Len() int            { return len(h) }
func (h jobHeap) Less(i, j int) bool  { return h[i].due.Before(h[j].due) }
func (h jobHeap) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x interface{}) { *h = append(*h, x.(jobItem)) }
func (h *jobHeap) Pop() interface{} {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func summarise(lat []time.Duration, codes map[string]int, errs int, elapsed time.Duration, cpuSec float64) result {
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) float64 {
		if len(sorted) == 0 {
			return 0
		}
		i := int(p * float64(len(sorted)-1))
		return float64(sorted[i]) / float64(time.Millisecond)
	}
	r := result{
		Requests: len(lat), Seconds: elapsed.Seconds(), RPS: float64(len(lat)) / elapsed.Seconds(),
		P50ms: pct(0.50), P99ms: pct(0.99), Codes: codes, Errors: errs, ServerCPU: cpuSec,
	}
	if len(lat) > 0 {
		r.CPUPerReq = cpuSec / float64(len(lat)) * 1e6
	}
	r.ServerUtil = cpuSec / elapsed.Seconds()
	return r
}

func (r result) codesString() string {
	keys := make([]string, 0, len(r.Codes))
	for k := range r.Codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, r.Codes[k]))
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("transport-errors×%d", r.Errors))
	}
	return strings.Join(parts, ", ")
}
