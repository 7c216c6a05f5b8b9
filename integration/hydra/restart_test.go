package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// serverBinary builds `go run .` once per test binary.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "grants-hydra")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "hydra")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	require.NoError(t, buildErr, binary)
	return binary
}

// process is a running server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startProcess runs the server binary and returns once it is listening (it says so on stderr).
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(serverBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, done: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "msg=listening") {
				signalled = true
				ready <- true
			}
		}
		if !signalled {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	require.True(t, <-ready, "the server did not start")
	t.Cleanup(p.kill)
	return p
}

// kill ends the process the hard way (SIGKILL: no shutdown, no flush) and waits for it.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestSIGKILLBetweenApprovalAndRedemption runs the real binary on SQLite: a device is approved, the
// process is killed with SIGKILL before the device picks its tokens up, and after a restart the device
// gets them; tokens issued before the kill are still Hydra's valid tokens, and a code redeemed before
// the kill is still spent.
func TestSIGKILLBetweenApprovalAndRedemption(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	args := []string{"-addr", addr, "-db", filepath.Join(dir, "hydra.db"), "-admin-token", adminToken}
	e := &env{t: t, url: "http://" + addr}

	first := startProcess(t, args...)

	// A device that finished before the crash holds tokens.
	done := e.deviceAuth("demo-device", "openid offline_access")
	status, body := e.admin("/admin/device/approve", url.Values{"user_code": {done.UserCode}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, before := e.pollDevice("demo-device", done.DeviceCode)
	require.Equal(t, http.StatusOK, status, "%v", before)

	// A device approved just before the crash has not picked its tokens up.
	approved := e.deviceAuth("demo-device", "openid")
	status, body = e.admin("/admin/device/approve", url.Values{"user_code": {approved.UserCode}, "subject": {"bob"}})
	require.Equal(t, http.StatusOK, status, "%v", body)

	first.kill()
	startProcess(t, args...)

	status, after := e.pollDevice("demo-device", approved.DeviceCode)
	require.Equal(t, http.StatusOK, status, "the approval survived the crash: %v", after)
	require.Equal(t, "bob", e.introspect(after["access_token"].(string))["sub"])
	require.Equal(t, true, e.introspect(before["access_token"].(string))["active"], "a token issued before the crash is still active")
	status, refreshed := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"demo-device"},
		"refresh_token": {before["refresh_token"].(string)}}, "", "")
	require.Equal(t, http.StatusOK, status, "%v", refreshed)

	status, body = e.pollDevice("demo-device", done.DeviceCode)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", body["error"], "a code redeemed before the crash is still spent")
}

// TestRestartWithAnotherSecretIsRefused: a server started on a database with another system secret than
// the one it was created with stops at once, saying so, instead of serving tokens it cannot read.
func TestRestartWithAnotherSecretIsRefused(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "hydra.db")
	srv, err := New(context.Background(), Options{Issuer: "http://127.0.0.1:1", DB: db, Secret: testSecret, AdminToken: adminToken, Dev: true, HydraLogLevel: "fatal"})
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	_, err = New(context.Background(), Options{Issuer: "http://127.0.0.1:1", DB: db, Secret: strings.Repeat("x", 40), AdminToken: adminToken, Dev: true, HydraLogLevel: "fatal"})
	require.ErrorIs(t, err, sqlstore.ErrKeysMismatch)
}
