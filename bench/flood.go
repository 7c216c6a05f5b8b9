package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// floodAddr is the loopback address the flood comes from; Linux routes all of 127.0.0.0/8 to loopback,
// so the server sees it as another client address than the pollers' 127.0.0.1.
const floodAddr = "127.0.0.2"

// flooder sends token requests with a wrong client secret at a fixed rate from floodAddr, as an attacker
// guessing (or a broken client retrying) would, and counts the answers. A request is skipped when all of
// its connections are busy, so a slow server does not make the flood pile up without bound.
type flooder struct {
	url   string
	basic string
	rate  int
	conns int

	mu      sync.Mutex
	codes   map[string]int
	skipped int
	sent    atomic.Int64
	limited chan struct{} // closed at the first 429
	once    sync.Once
}

func newFlooder(tokenURL, clientID string, rate, conns int) *flooder {
	return &flooder{
		url: tokenURL, basic: basicHeader(clientID, "not-the-secret"), rate: rate, conns: conns,
		codes: map[string]int{}, limited: make(chan struct{}),
	}
}

// run floods until ctx ends.
func (f *flooder) run(ctx context.Context) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(floodAddr)}}).DialContext,
		MaxIdleConnsPerHost: f.conns,
		MaxConnsPerHost:     f.conns,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	slots := make(chan struct{}, f.conns)
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	tick := time.NewTicker(time.Second / time.Duration(f.rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			f.mu.Lock()
			f.skipped++
			f.mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			var buf bytes.Buffer
			key, err := do(ctx, c, target{url: f.url, basic: f.basic, body: func(int) []byte { return []byte(body) }}, 0, &buf)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				key = "transport-error"
			}
			f.sent.Add(1)
			f.mu.Lock()
			f.codes[key]++
			f.mu.Unlock()
			if key == "429 temporarily_unavailable" {
				f.once.Do(func() { close(f.limited) })
			}
		}()
	}
}

// answers returns the flood's answers so far and how many requests it skipped.
func (f *flooder) answers() (map[string]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.codes))
	for k, v := range f.codes {
		out[k] = v
	}
	return out, f.skipped
}

// runFlood measures a confidential client's device-code polls (as poll_confidential) alone and while
// another address floods the token endpoint with wrong secrets for another client, run by run: alone,
// flooded, alone, flooded… The flood runs only during the flooded runs. Before the first one it runs
// until the server's failure limit answers 429, or for -flood-settle, whichever comes first: the
// measurement is of the steady state, not of the failures the limit still allows.
func runFlood(ctx context.Context, o options, s *server, c *http.Client) ([]*scenarioResult, error) {
	alone := &scenarioResult{Scenario: "flood: poll alone", Server: s.name}
	flooded := &scenarioResult{Scenario: "flood: poll + flood", Server: s.name}
	dc, err := s.newDeviceCode(c, "openid", false)
	if err != nil {
		return nil, err
	}
	body := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.device}}.Encode()
	t := target{url: s.endpoint("token_endpoint"), basic: s.basic(), body: func(int) []byte { return []byte(body) }}
	closedLoop(ctx, c, o.conns, o.warmup, t, s.cpuSeconds)

	f := newFlooder(s.endpoint("token_endpoint"), s.cibaID, o.floodRate, 32)
	for run := 0; run < o.runs; run++ {
		m := closedLoop(ctx, c, o.conns, o.n, t, s.cpuSeconds)
		alone.Runs = append(alone.Runs, m)
		fmt.Printf("  %-20s %-4s run %d: %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.1f µs/req  %s\n",
			"flood: alone", s.name, run+1, m.RPS, m.P50ms, m.P99ms, m.CPUPerReq, m.codesString())

		fctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); f.run(fctx) }()
		if run == 0 {
			select {
			case <-f.limited:
			case <-time.After(o.floodSettle):
			case <-ctx.Done():
			}
		}
		m = closedLoop(ctx, c, o.conns, o.n, t, s.cpuSeconds)
		stop()
		<-done
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		flooded.Runs = append(flooded.Runs, m)
		fmt.Printf("  %-20s %-4s run %d: %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.1f µs/req  %s\n",
			"flood: flooded", s.name, run+1, m.RPS, m.P50ms, m.P99ms, m.CPUPerReq, m.codesString())
	}
	codes, skipped := f.answers()
	for _, r := range []*scenarioResult{alone, flooded} {
		med := median(r.Runs)
		r.Median = &med
	}
	fr := result{Codes: codes, Requests: int(f.sent.Load())}
	flooded.Note = fmt.Sprintf("flood: %d req/s offered from %s with a wrong secret for %s (%s; %d skipped, all connections busy); p50 %.2f×, p99 %.2f× the poll alone",
		o.floodRate, floodAddr, s.cibaID, fr.codesString(), skipped, flooded.Median.P50ms/alone.Median.P50ms, flooded.Median.P99ms/alone.Median.P99ms)
	fmt.Printf("  %s\n", flooded.Note)
	return []*scenarioResult{alone, flooded}, nil
}
