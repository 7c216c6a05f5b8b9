package integration

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runToExit runs the example binary, which is expected to stop by itself, and returns its exit code and
// what it wrote.
func runToExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, exampleBinary(t), args...).CombinedOutput()
	require.NoError(t, ctx.Err(), "the server should have stopped by itself: %s", out)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

// TestKeysThatDoNotMatchTheDatabase: the example refuses to start, with a message that says what to do
// and a non-zero exit code, when its keys file is not the one the database was created with, whether
// the file is missing (and would be created afresh) or belongs to another database; with the right
// file it starts, and what it issued before still works.
func TestKeysThatDoNotMatchTheDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example binary")
	}
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "grants.db")
	addr := freeAddr(t)
	e := &env{t: t, url: "http://" + addr}

	first := startProcess(t, "-addr", addr, "-db", db, "-admin-token", adminToken)
	_, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid offline_access"}}, nil)
	status, _ := e.admin("/admin/device/approve", url.Values{"user_code": {da["user_code"].(string)}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status)
	status, tok := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "%v", tok)
	first.kill()

	// Another database's keys file.
	other := filepath.Join(dir, "other.keys.json")
	startProcess(t, "-addr", freeAddr(t), "-db", filepath.Join(dir, "other.db"), "-keys", other, "-admin-token", adminToken).kill()
	code, out := runToExit(t, "-addr", addr, "-db", db, "-keys", other, "-admin-token", adminToken)
	require.NotZero(t, code, "%s", out)
	require.Contains(t, out, "the keys file "+other+" does not match the database "+db)
	require.Contains(t, out, "the token secret is not the one this database was first opened with")
	require.Contains(t, out, "Start the server with the keys this database was created with, or with a new, empty database (-keys names the keys file, -db the database)")
	require.NotContains(t, out, "msg=listening")

	// No keys file at all: one would be created with new keys, which match nothing.
	missing := filepath.Join(dir, "missing.keys.json")
	code, out = runToExit(t, "-addr", addr, "-db", db, "-keys", missing, "-admin-token", adminToken)
	require.NotZero(t, code, "%s", out)
	require.Contains(t, out, "there is no keys file at "+missing+", and the database "+db+" was created with other keys")
	_, err := os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist, "the keys made for the refused start are not left behind")

	// The right keys file (next to the database, by default).
	startProcess(t, "-addr", addr, "-db", db, "-admin-token", adminToken)
	require.True(t, e.active(tok["access_token"].(string)), "a token issued before is still good")
	status, body := ksAuditVerify(t, e)
	require.Equal(t, http.StatusOK, status, "the audit log still verifies: %v", body)
}
