package integration

import (
	"bufio"
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
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// exampleBinary builds `go run ./example` once per test binary.
func exampleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "grants-example")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "example")
		out, err := exec.Command("go", "build", "-o", binary, "../example").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	require.NoError(t, buildErr, binary)
	return binary
}

// process is a running example server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startProcess runs the example binary and returns once it is listening (it says so on stderr).
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(exampleBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "msg=listening") {
				signalled = true
				close(ready)
			}
		}
		if !signalled {
			close(ready)
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	<-ready
	t.Cleanup(func() { p.kill() })
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

// TestRestartKeepsEverything: start the example on SQLite, begin a device flow, SIGKILL the process,
// start it again, approve, redeem → tokens; tokens issued before the kill still work.
func TestRestartKeepsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example binary")
	}
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	args := []string{"-addr", addr, "-db", filepath.Join(dir, "grants.db"), "-admin-token", adminToken}
	e := &env{t: t, url: "http://" + addr}

	first := startProcess(t, args...)

	// A device that finished before the crash holds tokens.
	_, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid offline_access"}}, nil)
	status, _ := e.admin("/admin/device/approve", url.Values{"user_code": {da["user_code"].(string)}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status)
	status, before := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "%v", before)

	// A device that started before the crash is still waiting.
	status, waiting := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	require.Equal(t, http.StatusOK, status)
	_, body := e.poll("demo-device", waiting["device_code"].(string))
	require.Equal(t, "authorization_pending", body["error"])

	first.kill()
	startProcess(t, args...)

	status, body = e.admin("/admin/device/approve", url.Values{"user_code": {waiting["user_code"].(string)}, "subject": {"bob"}})
	require.Equal(t, http.StatusOK, status, "the pending grant survived the crash: %v", body)
	status, after := e.poll("demo-device", waiting["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "%v", after)
	require.NotEmpty(t, after["access_token"])

	require.True(t, e.active(before["access_token"].(string)), "a token issued before the crash still introspects active")
	status, refreshed := e.post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"demo-device"},
		"refresh_token": {before["refresh_token"].(string)}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", refreshed)

	status, body = e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", body["error"], "a code redeemed before the crash is still spent")
}
