package integration

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// TestDatabaseErrorLosesNothing: when the database fails in the middle of a redemption, the client gets
// server_error (500) with nothing of the database in it, the grant stays approved, and once the
// database works again the same device code redeems.
func TestDatabaseErrorLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "grants.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := start(t, func(o *server.Options) { o.Store = store })

	_, da := e.post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid"}}, nil)
	status, _ := e.admin("/admin/device/approve", url.Values{"user_code": {da["user_code"].(string)}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status)

	// A real database error: storing the access token fails.
	_, err = store.DB().ExecContext(ctx, `CREATE TRIGGER fail_tokens BEFORE INSERT ON oauth2_access_tokens BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	require.NoError(t, err)
	status, body := e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, "server_error", body["error"])
	desc, _ := body["error_description"].(string)
	for _, leak := range []string{"disk on fire", "oauth2_access_tokens", "sqlite", "INSERT", "trigger"} {
		require.NotContains(t, strings.ToLower(desc), strings.ToLower(leak), "no database internals reach the client")
	}

	_, err = store.DB().ExecContext(ctx, `DROP TRIGGER fail_tokens`)
	require.NoError(t, err)
	status, body = e.poll("demo-device", da["device_code"].(string))
	require.Equal(t, http.StatusOK, status, "the grant was not consumed by the failed attempt: %v", body)
	require.NotEmpty(t, body["access_token"])
}
