package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// postgresEnv names the environment variable that turns the PostgreSQL tests on.
const postgresEnv = "GRANTS_TEST_POSTGRES_DSN"

// backend opens fresh, empty databases of one kind.
type backend struct {
	name string
	// fresh returns the DSN of a new, empty database that is removed when the test ends.
	fresh func(t testing.TB) string
}

var (
	sqliteBackend = backend{name: "sqlite", fresh: func(t testing.TB) string {
		return filepath.Join(t.TempDir(), "grants.db")
	}}
	postgresBackend = backend{name: "postgres", fresh: freshPostgres}
)

var backends = []backend{sqliteBackend, postgresBackend}

// freshPostgres creates a schema of its own for the test in the database named by
// GRANTS_TEST_POSTGRES_DSN and returns a DSN whose search_path points at it, so tests can run in
// parallel. It skips the test when the variable is not set.
func freshPostgres(t testing.TB) string {
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests are off: run them with %s=postgres://user:password@host:port/db go test ./storage/sql/", postgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })

	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "grants_test_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		require.NoError(t, err)
	})

	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a store on dsn and closes it when the test ends.
func open(t testing.TB, dsn string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// forEachBackend runs fn as a parallel subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}
