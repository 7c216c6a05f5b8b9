package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHelpListsSubcommands: -h names every subcommand (with a summary) and the serving flags, and
// exits successfully; an unknown word is refused with the same help.
func TestHelpListsSubcommands(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h = %v, want flag.ErrHelp", err)
	}
	for name := range subcommands {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +\S`).MatchString(out.String()) {
			t.Errorf("-h does not list %q with a summary:\n%s", name, out.String())
		}
	}
	for _, want := range []string{"migrate", "purge", "audit-verify", "-ciba-ping-url", "-ciba-push-url", "-db"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h does not mention %s", want)
		}
	}

	out.Reset()
	if err := run(context.Background(), []string{"migrat"}, &out); !errors.Is(err, errUsage) {
		t.Fatalf("run migrat = %v, want errUsage", err)
	}
	if !strings.Contains(out.String(), `unknown command "migrat"`) || !strings.Contains(out.String(), "audit-verify") {
		t.Errorf("an unknown command is not explained:\n%s", out.String())
	}
}

// TestGitignoreCoversREADMEDatabases: every file the README's commands create in the working
// directory (each -db file, its SQLite -wal and -shm files, its keys file) is ignored by git.
func TestGitignoreCoversREADMEDatabases(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile("../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	sc := bufio.NewScanner(bytes.NewReader(ignore))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	ignored := func(name string) bool {
		for _, p := range patterns {
			// Only the forms this file uses: "/glob" at the root, or "glob" anywhere.
			if m, _ := path.Match(strings.TrimPrefix(p, "/"), name); m {
				return true
			}
		}
		return false
	}
	dbs := map[string]bool{"grants.db": true} // the default of -db
	for _, m := range regexp.MustCompile(`-db ([\w.-]+\.db)\b`).FindAllStringSubmatch(string(readme), -1) {
		dbs[m[1]] = true
	}
	if len(dbs) < 3 {
		t.Fatalf("found only %v in the README; the pattern is stale", dbs)
	}
	for db := range dbs {
		for _, f := range []string{db, db + "-wal", db + "-shm", db + ".keys.json"} {
			if !ignored(f) {
				t.Errorf("%s (from the README's commands) is not in .gitignore", f)
			}
		}
	}
	for _, f := range []string{"grants-keys.json", "audit-jwks.json"} {
		if !ignored(f) {
			t.Errorf("%s is not in .gitignore", f)
		}
	}
}

// TestCIBACallbackFlags runs the example binary's serve with -ciba-ping-url pointing at a listener of
// the test's, asks for a CIBA request as demo-ciba-ping, approves it through the admin API, and
// receives the ping there.
func TestCIBACallbackFlags(t *testing.T) {
	cb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pinged := make(chan string, 1)
	cbSrv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body struct {
			AuthReqID string `json:"auth_req_id"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body)
		select {
		case pinged <- r.URL.Path + " " + body.AuthReqID:
		default:
		}
		rw.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = cbSrv.Serve(cb) }()
	t.Cleanup(func() { _ = cbSrv.Close() })

	// A free loopback port for the server (closed again just before it listens).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stderr := &bannerWriter{ready: make(chan struct{})}
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-db", "memory", "-admin-token", "flag-test-admin",
			"-ciba-ping-url", "http://" + cb.Addr().String() + "/my-ping"}, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	select { // the banner is printed once the server listens
	case <-stderr.ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	base := "http://" + addr
	form := url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "client_notification_token": {"tok-0123456789abcdef0123456789"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/bc-authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo-ciba-ping", "demo-ciba-secret")
	var ack struct {
		AuthReqID string `json:"auth_req_id"`
	}
	postJSON(t, req, &ack)

	req, _ = http.NewRequest(http.MethodPost, base+"/admin/ciba/approve", strings.NewReader(url.Values{"auth_req_id": {ack.AuthReqID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer flag-test-admin")
	postJSON(t, req, &struct{}{})

	select {
	case got := <-pinged:
		if got != "/my-ping "+ack.AuthReqID {
			t.Fatalf("ping = %q, want /my-ping %s", got, ack.AuthReqID)
		}
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(time.Minute): // a hung test's deadline, not a timing assertion
		t.Fatal("no ping arrived at -ciba-ping-url")
	}
}

// bannerWriter closes ready when the server's "open <issuer>" banner is written.
type bannerWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
}

func (w *bannerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), "open http")
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), "open http") {
		close(w.ready)
	}
	return len(p), nil
}

func postJSON(t *testing.T, req *http.Request, out any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
}
