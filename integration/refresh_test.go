package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/internal/grantstest"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// refreshBackends are the deployments the refresh tests run on: the example on each store, and two
// instances of it sharing one PostgreSQL database (and one keys file, as they must).
var refreshBackends = []struct {
	name      string
	instances int
	dsn       func(t *testing.T) string // "" is the memory store
}{
	{"memory", 1, func(*testing.T) string { return "" }},
	{"sqlite", 1, func(t *testing.T) string { return filepath.Join(t.TempDir(), "grants.db") }},
	{"postgres", 1, func(t *testing.T) string { return grantstest.PostgresDSN(t) }},
	{"postgres, two instances", 2, func(t *testing.T) string { return grantstest.PostgresDSN(t) }},
}

// startInstances starts n example servers on the database dsn ("" for one in-memory server), all with
// the same token secret and signing key.
func startInstances(t *testing.T, n int, dsn string) []*env {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	out := make([]*env, n)
	for i := range out {
		out[i] = start(t, func(o *server.Options) {
			o.GlobalSecret, o.SigningKey = secret, key
			if dsn != "" {
				s, err := sqlstore.Open(context.Background(), dsn)
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				o.Store = s
			}
		})
	}
	return out
}

// deviceTokens runs the device grant for demo-device (approved through the admin API) and returns the
// token response, which has a refresh token.
func deviceTokens(t *testing.T, e *env) map[string]interface{} {
	t.Helper()
	status, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid offline_access"}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", da)
	status, body := e.admin("/admin/device/approve", url.Values{"user_code": {da["user_code"].(string)}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, tok := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "%v", tok)
	require.NotEmpty(t, tok["refresh_token"])
	return tok
}

func refreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {"demo-device"}, "refresh_token": {token}}
}

// TestRefreshRotationUnderConcurrency: 64 refresh requests with one refresh token at once, over HTTP, on
// every store and spread over two instances sharing PostgreSQL: exactly one answer carries tokens, the
// 63 others are invalid_grant (400), none is a server error; and as for any reuse the grant then ends,
// the winner's new tokens included.
func TestRefreshRotationUnderConcurrency(t *testing.T) {
	t.Parallel()
	for _, b := range refreshBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			es := startInstances(t, b.instances, b.dsn(t))
			tok := deviceTokens(t, es[0])

			const n = 64
			counts, won := race(t, n, func(i int) (status int, body map[string]interface{}, err error) {
				resp, err := http.PostForm(es[i%len(es)].url+"/oauth2/token", refreshForm(tok["refresh_token"].(string)))
				if err != nil {
					return 0, nil, err
				}
				defer resp.Body.Close()
				err = json.NewDecoder(resp.Body).Decode(&body)
				return resp.StatusCode, body, err
			})
			require.Equal(t, map[string]int{"200": 1, "400 invalid_grant": n - 1}, counts)
			winner := won[0]
			require.NotEmpty(t, winner["refresh_token"])

			for _, e := range es {
				require.False(t, e.active(winner["access_token"].(string)), "the grant was revoked: the refresh token was presented again")
			}
			status, body := es[len(es)-1].post("/oauth2/token", refreshForm(winner["refresh_token"].(string)), nil)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, "invalid_grant", body["error"])
		})
	}
}

// TestRefreshReuseRevokesTheGrant: refreshing in turn works (and each refresh ends the access token
// before it); presenting a rotated refresh token again is invalid_grant and revokes what the grant
// issued since, on every store and across instances.
func TestRefreshReuseRevokesTheGrant(t *testing.T) {
	t.Parallel()
	for _, b := range refreshBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			es := startInstances(t, b.instances, b.dsn(t))
			first, last := es[0], es[len(es)-1]
			tok := deviceTokens(t, first)

			status, second := last.post("/oauth2/token", refreshForm(tok["refresh_token"].(string)), nil)
			require.Equal(t, http.StatusOK, status, "%v", second)
			require.False(t, first.active(tok["access_token"].(string)), "a refresh ends the access token before it")
			require.True(t, first.active(second["access_token"].(string)))
			status, third := first.post("/oauth2/token", refreshForm(second["refresh_token"].(string)), nil)
			require.Equal(t, http.StatusOK, status, "%v", third)
			require.True(t, last.active(third["access_token"].(string)))

			status, body := last.post("/oauth2/token", refreshForm(tok["refresh_token"].(string)), nil)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, "invalid_grant", body["error"])
			require.NotContains(t, strings.ToLower(fmt.Sprint(body["error_description"])), "retry", "a reused token is not worth retrying")
			require.False(t, first.active(third["access_token"].(string)), "reuse revokes the newest access token")
			status, body = first.post("/oauth2/token", refreshForm(third["refresh_token"].(string)), nil)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, "invalid_grant", body["error"], "reuse revokes the newest refresh token")
		})
	}
}
