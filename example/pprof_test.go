package main

import (
	"net"
	"net/http"
	"testing"
)

// TestProfilerOnlyOnLoopback: -pprof refuses an address other hosts can reach, and serves the profiler
// index on a loopback one.
func TestProfilerOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:6060", "example.com:6060", "no-port"} {
		if stop, err := serveProfiler(addr); err == nil {
			stop()
			t.Errorf("serveProfiler(%q) accepted a non-loopback address", addr)
		}
	}
	// Find a free loopback port, then serve there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop, err := serveProfiler(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/: %s", resp.Status)
	}
}
