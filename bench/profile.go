package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// profileScenario drives sc against ours for about o.profileFor (as many requests as the measured
// median rate gets through in that time) while the server records a CPU profile over the same span,
// and writes the profile to <o.profileDir>/<store>-<scenario>.pprof.
func profileScenario(ctx context.Context, o options, c *http.Client, store string, sc scenario, ours *server, rps float64) error {
	if ours.pprofAddr == "" {
		return fmt.Errorf("the example server was started without -pprof")
	}
	secs := max(1, int(o.profileFor.Seconds()))
	count := max(1000, int(rps*float64(secs)))
	t, note, err := sc.prepare(ours, c, count)
	if err != nil || note != "" {
		return err
	}
	if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
		return err
	}
	type answer struct {
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", ours.pprofAddr, secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			got <- answer{err: err}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		got <- answer{b, err}
	}()
	m := closedLoop(ctx, c, o.conns, count, t, ours.cpuSeconds)
	a := <-got
	if a.err != nil {
		return a.err
	}
	path := filepath.Join(o.profileDir, fmt.Sprintf("%s-%s.pprof", strings.NewReplacer("/", "_", ":", "_").Replace(store), sc.name))
	if err := os.WriteFile(path, a.body, 0o644); err != nil {
		return err
	}
	fmt.Printf("  %-20s ours profiled: %d requests in %.1f s (%0.f req/s) → %s\n", sc.name, m.Requests, m.Seconds, m.RPS, path)
	return nil
}
