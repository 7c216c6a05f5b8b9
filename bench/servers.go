package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a running authorization server under test.
type server struct {
	name   string // "ours" or "peer"
	issuer string
	cmd    *exec.Cmd
	meta   map[string]interface{}

	// client credentials and endpoints, per server
	confID, confSecret string
	publicID           string
	ccScope            string
	redeemScope        string
	approvePath        string
	approveAuth        string // Authorization header of the approve call
	cibaID, cibaSecret string
	cibaHint           string // a user whose authentication device is sent nothing
	cibaEmailHint      string // a user whose authentication device is a mailbox ("" when the server has none)
	pprofAddr          string // where the example server serves net/http/pprof, when it does
}

func (s *server) endpoint(field string) string {
	v, _ := s.meta[field].(string)
	return v
}

func (s *server) basic() string { return basicHeader(s.confID, s.confSecret) }

func basicHeader(id, secret string) string {
	// RFC 6749 §2.3.1: form-urlencode id and secret before Basic encoding.
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// cpuSeconds returns the user+system CPU time of the server process so far.
func (s *server) cpuSeconds() float64 {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	cpu, _ := procCPU(s.cmd.Process.Pid)
	return cpu
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pinned returns a command running name pinned to cpu with taskset (unless cpu is negative).
func pinned(cpu int, name string, args ...string) *exec.Cmd {
	if cpu < 0 {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
}

// benchInitiationLimit is the example server's initiation rate limit in a benchmark: never reached.
const benchInitiationLimit = 1_000_000_000

// hasFlag reports whether the example binary knows -name (a build of an older commit, -example-src,
// may not).
func hasFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+name+" ")
}

// startOurs starts the example binary on one core with GOMAXPROCS=1.
func startOurs(ctx context.Context, bin, db, dir string, cpu int, logf *os.File, adminToken string, profiler bool) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-addr", addr, "-db", db, "-admin-token", adminToken, "-dev=false"}
	if hasFlag(bin, "initiation-limit") {
		// Every request of a scenario comes from one address (and CIBA's from one user): the default
		// rate limits would refuse all but the first few. A limit never reached still counts every
		// request, so the work of the limits stays in the figures.
		args = append(args, "-initiation-limit", strconv.Itoa(benchInitiationLimit))
	}
	var pprofAddr string
	if profiler {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		pprofAddr = fmt.Sprintf("127.0.0.1:%d", pp)
		args = append(args, "-pprof", pprofAddr)
	}
	if db != "memory" {
		// One keys file per database: a server started again on the same PostgreSQL database (-fresh)
		// must bring the keys it was first opened with, or it refuses to start (sqlstore.VerifyKeys).
		args = append(args, "-keys", filepath.Join(dir, fmt.Sprintf("keys-%08x.json", crc32.ChecksumIEEE([]byte(db)))))
	}
	cmd := pinned(cpu, bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := oursAt("http://"+addr, adminToken)
	s.cmd, s.pprofAddr = cmd, pprofAddr
	if err := s.waitReady(ctx, "/.well-known/openid-configuration"); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startPeer copies the peer (server.mjs, package.json, package-lock.json) into dir, runs npm ci there
// once, and starts node on one core.
func startPeer(ctx context.Context, src, dir string, cpu int, logf *os.File) (*server, error) {
	pd := filepath.Join(dir, "peer")
	if _, err := os.Stat(filepath.Join(pd, "node_modules")); err != nil {
		if err := os.MkdirAll(pd, 0o755); err != nil {
			return nil, err
		}
		for _, f := range []string{"server.mjs", "package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(pd, f), b, 0o644); err != nil {
				return nil, err
			}
		}
		npm := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = pd
		npm.Stdout, npm.Stderr = logf, logf
		if err := npm.Run(); err != nil {
			return nil, fmt.Errorf("npm ci for the peer: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ping, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := pinned(cpu, "node", "server.mjs")
	cmd.Dir = pd
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "PING_PORT="+strconv.Itoa(ping), "QUIET=1", "NO_LOG=1",
		"CIBA_APPROVE_DELAY_MS=600000")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{
		name: "peer", issuer: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd,
		confID: "peer-confidential", confSecret: "peer-confidential-secret", publicID: "peer-public-device",
		ccScope: "api:read", redeemScope: "api:read",
		approvePath: "/test/device/approve",
		cibaID:      "peer-confidential", cibaSecret: "peer-confidential-secret", cibaHint: "alice+manual",
	}
	if err := s.waitReady(ctx, "/.well-known/openid-configuration"); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// oursAt describes the example server at issuer: its demo clients and admin API.
func oursAt(issuer, adminToken string) *server {
	return &server{
		name: "ours", issuer: issuer,
		confID: "demo-confidential", confSecret: "demo-secret", publicID: "demo-device",
		ccScope: "", redeemScope: "profile",
		approvePath: "/admin/device/approve", approveAuth: "Bearer " + adminToken,
		cibaID: "demo-ciba-poll", cibaSecret: "demo-ciba-secret", cibaHint: "carol", cibaEmailHint: "alice",
	}
}

func (s *server) waitReady(ctx context.Context, path string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := http.Get(s.issuer + path)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return json.Unmarshal(b, &s.meta)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not start at %s", s.name, s.issuer)
}

// postForm sends one form POST and decodes a JSON answer.
func postForm(c *http.Client, u, auth string, form url.Values) (int, map[string]interface{}, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]interface{}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

type deviceCode struct{ device, user string }

// newDeviceCode asks the device authorization endpoint for a code, as the confidential client, or as the
// public client when public is true.
func (s *server) newDeviceCode(c *http.Client, scope string, public bool) (deviceCode, error) {
	form := url.Values{"scope": {scope}}
	auth := s.basic()
	if public {
		form.Set("client_id", s.publicID)
		auth = ""
	}
	st, m, err := postForm(c, s.endpoint("device_authorization_endpoint"), auth, form)
	if err != nil {
		return deviceCode{}, err
	}
	dc, _ := m["device_code"].(string)
	uc, _ := m["user_code"].(string)
	if st != 200 || dc == "" {
		return deviceCode{}, fmt.Errorf("%s device authorization: %d %v", s.name, st, m)
	}
	return deviceCode{dc, uc}, nil
}

// benchSubject is the user the example server's device codes are approved for in the benchmark.
const benchSubject = "bench-user"

func (s *server) approve(c *http.Client, userCode string) error {
	form := url.Values{"user_code": {userCode}}
	if s.name == "ours" {
		// A subject without an alert address: approving for a demo user queues an alert e-mail, which
		// the outbox worker would be delivering while the redemptions are measured.
		form.Set("subject", benchSubject)
	} else {
		form.Set("account", "alice")
	}
	st, m, err := postForm(c, s.issuer+s.approvePath, s.approveAuth, form)
	if err != nil {
		return err
	}
	if st != 200 {
		return fmt.Errorf("%s approve: %d %v", s.name, st, m)
	}
	return nil
}

// newCIBARequest makes one CIBA authentication request (CIBA §7.1) that stays pending.
func (s *server) newCIBARequest(c *http.Client) (string, error) {
	ep := s.endpoint("backchannel_authentication_endpoint")
	if ep == "" {
		return "", errors.New("no backchannel_authentication_endpoint in discovery")
	}
	st, m, err := postForm(c, ep, basicHeader(s.cibaID, s.cibaSecret), url.Values{"scope": {"openid"}, "login_hint": {s.cibaHint}})
	if err != nil {
		return "", err
	}
	id, _ := m["auth_req_id"].(string)
	if st != 200 || id == "" {
		return "", fmt.Errorf("%s CIBA request: %d %v", s.name, st, m)
	}
	return id, nil
}
