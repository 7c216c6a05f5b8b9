package integration

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/example/server"
)

// jsFiles are the JavaScript interop client's files in testdata/dpop-js: its script and the exact
// versions of openid-client, oauth4webapi and jose it runs with (package-lock.json).
var jsFiles = []string{"package.json", "package-lock.json", "device.mjs"}

var (
	jsOnce sync.Once
	jsDir  string
	jsErr  error
)

// jsClients returns a folder holding testdata/dpop-js and its node_modules, installed with `npm ci` at
// the versions package-lock.json pins into a cache outside the repository (the user cache folder, or
// $GRANTS_NPM_CACHE), once per version of the files. It skips the test when node or npm is missing
// (.ci/node.sh installs them).
func jsClients(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (.ci/node.sh installs it): the JavaScript DPoP clients cannot run")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed (.ci/node.sh installs it): the JavaScript DPoP clients cannot be installed")
	}
	jsOnce.Do(func() { jsDir, jsErr = installJS(npm) })
	require.NoError(t, jsErr)
	return node, jsDir
}

func installJS(npm string) (string, error) {
	h := sha256.New()
	for _, f := range jsFiles {
		b, err := os.ReadFile(filepath.Join("testdata", "dpop-js", f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cache := os.Getenv("GRANTS_NPM_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cache = filepath.Join(base, "fosite-contrib-grants")
	}
	dir := filepath.Join(cache, "dpop-js-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, "install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, f := range jsFiles {
		b, err := os.ReadFile(filepath.Join("testdata", "dpop-js", f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: out}
	}
	// Another process may have installed the same files meanwhile: either copy will do.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules")); statErr != nil {
			return "", err
		}
	}
	return dir, nil
}

// jsResult is what device.mjs reports once done.
type jsResult struct {
	JKT                  string         `json:"jkt"`
	TokenType            string         `json:"token_type"`
	AccessToken          string         `json:"access_token"`
	RefreshedTokenType   string         `json:"refreshed_token_type"`
	RefreshedAccessToken string         `json:"refreshed_access_token"`
	Userinfo             map[string]any `json:"userinfo"`
	WhoamiStatus         int            `json:"whoami_status"`
	Whoami               map[string]any `json:"whoami"`
}

// TestDPoPWithJavaScriptClients runs the device flow with DPoP through two unmodified JavaScript
// client libraries against the example server (openid-client 6 and oauth4webapi 3; package-lock.json
// pins them), with and without server nonces (RFC 9449 §8): each gets DPoP tokens for demo-dpop (which
// requires DPoP), bound to the key it generated (the server's introspection agrees with the thumbprint
// the client computes), calls userinfo and the demo resource with them, and refreshes them.
func TestDPoPWithJavaScriptClients(t *testing.T) {
	t.Parallel()
	node, dir := jsClients(t)
	for _, tc := range []struct {
		library string
		nonce   bool
	}{{"openid-client", false}, {"openid-client", true}, {"oauth4webapi", false}, {"oauth4webapi", true}} {
		name := tc.library
		if tc.nonce {
			name += "/nonces"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(o *server.Options) { o.DPoP.RequireNonce = tc.nonce })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a deadline for a hung client, not a timing assertion
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "device.mjs")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "ISSUER="+e.url, "CLIENT_ID="+server.DemoDPoPClientID, "LIBRARY="+tc.library)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())

			var result *jsResult
			lines := bufio.NewScanner(stdout)
			lines.Buffer(make([]byte, 64<<10), 1<<20)
			for lines.Scan() {
				var msg struct {
					UserCode string    `json:"user_code"`
					Result   *jsResult `json:"result"`
				}
				require.NoError(t, json.Unmarshal(lines.Bytes(), &msg), "%s", lines.Text())
				if msg.UserCode != "" {
					status, body := e.admin("/admin/device/approve", map[string][]string{"user_code": {msg.UserCode}, "subject": {"alice"}})
					require.Equal(t, 200, status, "%v", body)
				}
				if msg.Result != nil {
					result = msg.Result
				}
			}
			require.NoError(t, cmd.Wait(), "%s failed: %s", tc.library, stderr.String())
			require.NotNil(t, result, "no result; stderr: %s", stderr.String())

			require.True(t, strings.EqualFold(result.TokenType, "DPoP"), result.TokenType)
			require.True(t, strings.EqualFold(result.RefreshedTokenType, "DPoP"), result.RefreshedTokenType)
			require.Equal(t, "alice", result.Userinfo["sub"])
			require.Equal(t, "Alice Liddell", result.Userinfo["name"])
			require.Equal(t, 200, result.WhoamiStatus)
			require.Equal(t, "DPoP", result.Whoami["token_type"])
			require.Equal(t, map[string]any{"jkt": result.JKT}, result.Whoami["cnf"])
			// The refresh replaced the first access token; the new one is bound to the key the client holds.
			_, ar, err := e.srv.Provider().IntrospectToken(context.Background(), result.RefreshedAccessToken, "access_token", dpop.NewOpenIDSession(nil))
			require.NoError(t, err)
			require.Equal(t, result.JKT, dpop.BoundTo(ar.GetSession()))
		})
	}
}
