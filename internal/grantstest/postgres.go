package grantstest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/stretchr/testify/require"
)

// PostgresEnv names the environment variable with the DSN of a PostgreSQL database the tests may create
// schemas in. Without it the PostgreSQL tests skip.
const PostgresEnv = "GRANTS_TEST_POSTGRES_DSN"

// PostgresDSN creates a schema of its own for the test in the database named by $GRANTS_TEST_POSTGRES_DSN
// and returns a DSN whose search_path points at it; the schema is dropped when the test ends. Every
// store opened on the DSN shares the schema, as server instances share a database. It skips the test
// when the variable is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests are off: set %s=postgres://user:password@host:port/db to run them", PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "grants_test_" + hex.EncodeToString(b[:])
	_, err = admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
