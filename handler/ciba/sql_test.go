package ciba_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// sqlFixtures runs fn on a fixture over SQLite, and over PostgreSQL (in a schema of its own, dropped
// afterwards) when GRANTS_TEST_POSTGRES_DSN is set.
func sqlFixtures(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		fn(t, newFixtureOn(t, nil, s))
	})
	if dsn := os.Getenv("GRANTS_TEST_POSTGRES_DSN"); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			t.Parallel()
			s, err := sqlstore.Open(context.Background(), freshSchema(t, dsn))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			fn(t, newFixtureOn(t, nil, s))
		})
	}
}

// TestSQLStore runs the main flows on the SQL store: clients come back from it with their CIBA
// metadata in the metadata map (not as ciba.DefaultClient), decisions run in transactions, and push
// mints tokens inside the decision's transaction.
func TestSQLStore(t *testing.T) {
	t.Parallel()
	sqlFixtures(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		c, err := f.store.GetClient(ctx, pushClient)
		require.NoError(t, err)
		_, isDefault := c.(*ciba.DefaultClient)
		require.False(t, isDefault)
		md, err := ciba.MetadataOf(c)
		require.NoError(t, err)
		require.Equal(t, ciba.ModePush, md.TokenDeliveryMode)
		require.Equal(t, "Client "+pushClient, md.Name)

		// Poll.
		a := f.start(t, pollClient, form(aliceForm()...))
		require.Equal(t, "authorization_pending", f.poll(t, pollClient, a.AuthReqID).Error(t))
		require.Equal(t, "slow_down", f.poll(t, pollClient, a.AuthReqID).Error(t))
		f.approveLast(t)
		f.clock.Advance(10 * time.Second)
		res := f.poll(t, pollClient, a.AuthReqID)
		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		require.Equal(t, a.AuthReqID, idTokenClaims(t, res.String(t, "id_token"))[ciba.AuthReqIDClaim])
		require.Equal(t, "invalid_grant", f.poll(t, pollClient, a.AuthReqID).Error(t))

		// Push: tokens minted and the callback queued in one transaction.
		p := f.start(t, pushClient, form(pushForm()...))
		f.approveLast(t)
		_, err = f.worker.DrainOnce(ctx)
		require.NoError(t, err)
		got := f.cb.all()
		require.Len(t, got, 1)
		require.Equal(t, p.AuthReqID, got[0].Body["auth_req_id"])
		require.NotEmpty(t, got[0].Body["access_token"])
		g, err := f.store.GetPendingGrant(ctx, pending.KindCIBA, sigOf(t, f, p.AuthReqID), nil)
		require.NoError(t, err)
		require.Equal(t, pending.StateConsumed, g.State)

		// Signed request with a single-use jti.
		claims := f.requestClaims(t)
		f.start(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", claims)))
		require.Equal(t, "invalid_request", f.authorize(t, signedClient, form("request", signRequest(t, f.clientKey, "ES256", claims))).Error(t))

		// Enrolment fallback.
		e := f.start(t, fallbackClient, form("scope", "openid", "login_hint", "bob"))
		_, err = f.grant.Enrollment.Approve(ctx, e.UserCode, pending.Caller{Address: "198.51.100.1"}, pending.Decision{Subject: "bob", Session: session("bob")})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, f.poll(t, fallbackClient, e.AuthReqID).Status)

		// The pending page.
		f.start(t, pollClient, form(aliceForm()...))
		list, err := f.grant.Decider.Pending(ctx, "alice")
		require.NoError(t, err)
		require.Len(t, list, 2, "the signed request and the last one")
	})
}

// freshSchema creates a schema for the test and returns dsn with its search_path set to it.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	schema := "ciba_test_" + strings.ToLower(randomJTI(t)[:10])
	schema = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, schema)
	_, err = admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
