package hydragrants

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/hydra/v2/aead"
	"github.com/ory/x/sqlcon"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testCipher(secret string) aead.Cipher {
	return aead.NewXChaCha20Poly1305(&fosite.Config{GlobalSecret: []byte(secret)})
}

func TestApprovalCookie(t *testing.T) {
	ctx := context.Background()
	c := testCipher("0123456789abcdef0123456789abcdef")
	ap := deviceApproval{UserCode: "WDJB-MJHT", RequestID: "req-1", ClientID: "demo-device", Expires: t0.Add(time.Minute).Unix()}
	v, err := sealApproval(ctx, c, ap)
	require.NoError(t, err)
	require.NotContains(t, v, "WDJB", "the user code is sealed, not merely encoded")

	got, err := openApproval(ctx, c, v, t0)
	require.NoError(t, err)
	require.Equal(t, ap, got)

	for name, tc := range map[string]struct {
		c   aead.Cipher
		v   string
		now time.Time
	}{
		"expired":                     {c, v, t0.Add(time.Minute)},
		"another server's secret":     {testCipher("fedcba9876543210fedcba9876543210"), v, t0},
		"one character changed":       {c, v[:10] + flip(v[10]) + v[11:], t0},
		"truncated":                   {c, v[:len(v)-2], t0},
		"empty":                       {c, "", t0},
		"garbage":                     {c, "not a sealed value", t0},
		"too long to be worth a look": {c, strings.Repeat("A", maxCookieBytes+1), t0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := openApproval(ctx, tc.c, tc.v, tc.now)
			require.ErrorIs(t, err, ErrNotThisBrowser)
		})
	}

	t.Run("sealed for another purpose", func(t *testing.T) {
		other, err := c.Encrypt(ctx, []byte(`{"c":"WDJB-MJHT","r":"req-1","cl":"demo-device","exp":9999999999}`), []byte("another purpose"))
		require.NoError(t, err)
		_, err = openApproval(ctx, c, other, t0)
		require.ErrorIs(t, err, ErrNotThisBrowser)
	})

	t.Run("incomplete approvals", func(t *testing.T) {
		for _, incomplete := range []deviceApproval{
			{RequestID: "req-1", ClientID: "demo-device", Expires: ap.Expires},
			{UserCode: "WDJB-MJHT", ClientID: "demo-device", Expires: ap.Expires},
			{UserCode: "WDJB-MJHT", RequestID: "req-1", Expires: ap.Expires},
		} {
			v, err := sealApproval(ctx, c, incomplete)
			require.NoError(t, err)
			_, err = openApproval(ctx, c, v, t0)
			require.ErrorIs(t, err, ErrNotThisBrowser)
		}
	})
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// FuzzOpenApproval: whatever a browser sends as the approval cookie, opening it never panics, and it
// yields an approval only when it is a complete, unexpired one sealed with the server's key.
func FuzzOpenApproval(f *testing.F) {
	ctx := context.Background()
	c := testCipher("0123456789abcdef0123456789abcdef")
	valid, err := sealApproval(ctx, c, deviceApproval{UserCode: "WDJB-MJHT", RequestID: "req-1", ClientID: "demo-device", Expires: t0.Add(time.Minute).Unix()})
	require.NoError(f, err)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add("")
	f.Add("AAAA")
	f.Add(strings.Repeat("_", 300))
	f.Fuzz(func(t *testing.T, v string) {
		ap, err := openApproval(ctx, c, v, t0)
		if err != nil {
			require.ErrorIs(t, err, ErrNotThisBrowser)
			require.Equal(t, deviceApproval{}, ap)
			return
		}
		require.NotEmpty(t, ap.UserCode)
		require.NotEmpty(t, ap.RequestID)
		require.NotEmpty(t, ap.ClientID)
		require.True(t, t0.Before(time.Unix(ap.Expires, 0)))
	})
}

func TestSQLiteDSN(t *testing.T) {
	for name, tc := range map[string]struct {
		in        string
		want      map[string]string // pragma → value
		txlock    string
		keepQuery url.Values
	}{
		"Hydra's DSN as pop writes it": {
			in:   "/var/lib/hydra.db?_fk=true&_busy_timeout=5000&lock=false",
			want: map[string]string{"foreign_keys": "1", "busy_timeout": "5000", "journal_mode": "WAL", "synchronous": "NORMAL"}, txlock: "immediate",
		},
		"no options": {
			in:   "/var/lib/hydra.db",
			want: map[string]string{"foreign_keys": "1", "busy_timeout": "10000", "journal_mode": "WAL", "synchronous": "NORMAL"}, txlock: "immediate",
		},
		"foreign keys off, deferred transactions, own pragmas": {
			in:   "file:hydra.db?_fk=0&_txlock=deferred&_pragma=journal_mode(DELETE)&mode=rwc",
			want: map[string]string{"foreign_keys": "0", "busy_timeout": "10000", "journal_mode": "DELETE", "synchronous": "NORMAL"}, txlock: "deferred",
			keepQuery: url.Values{"mode": {"rwc"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			out := sqliteDSN(tc.in)
			base, query, _ := strings.Cut(out, "?")
			require.Equal(t, strings.SplitN(tc.in, "?", 2)[0], base)
			q, err := url.ParseQuery(query)
			require.NoError(t, err)
			got := map[string]string{}
			for _, p := range q["_pragma"] {
				name, arg, _ := strings.Cut(p, "(")
				got[name] = strings.TrimSuffix(arg, ")")
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.txlock, q.Get("_txlock"))
			require.Equal(t, "sqlite", q.Get("_time_format"), "times written as mattn/go-sqlite3 writes them")
			require.False(t, q.Has("lock"), "pop's own options are not the driver's")
			require.False(t, q.Has("_fk"))
			for k, v := range tc.keepQuery {
				require.Equal(t, v, q[k])
			}
		})
	}
}

// TestSQLiteDriver opens a database through the driver Hydra's dialect uses and checks the settings and
// the error mapping Hydra relies on.
func TestSQLiteDriver(t *testing.T) {
	RegisterSQLite()
	RegisterSQLite() // a second call does nothing
	db, err := sql.Open(SQLiteDriverName, filepath.Join(t.TempDir(), "hydra.db")+"?_fk=true&_busy_timeout=5000&lock=false")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	pragma := func(name string) string {
		var v string
		require.NoError(t, db.QueryRow("PRAGMA "+name).Scan(&v))
		return v
	}
	require.Equal(t, "1", pragma("foreign_keys"))
	require.Equal(t, "5000", pragma("busy_timeout"))
	require.Equal(t, "wal", pragma("journal_mode"))

	_, err = db.Exec("CREATE TABLE t (id TEXT PRIMARY KEY, u TEXT UNIQUE, p TEXT REFERENCES t (id))")
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO t (id, u) VALUES ('a', 'x')")
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		query string
		want  error
	}{
		"primary key": {"INSERT INTO t (id) VALUES ('a')", sqlcon.ErrUniqueViolation},
		"unique":      {"INSERT INTO t (id, u) VALUES ('b', 'x')", sqlcon.ErrUniqueViolation},
		"no table":    {"SELECT * FROM missing_table", sqlcon.ErrNoSuchTable},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := db.Exec(tc.query)
			require.Error(t, err)
			require.ErrorIs(t, sqlcon.HandleError(err), tc.want)
		})
	}
	t.Run("prepared statements too", func(t *testing.T) {
		st, err := db.Prepare("INSERT INTO t (id) VALUES (?)")
		require.NoError(t, err)
		defer st.Close()
		_, err = st.Exec("a")
		require.ErrorIs(t, sqlcon.HandleError(err), sqlcon.ErrUniqueViolation)
	})
	t.Run("a foreign key violation is no unique violation", func(t *testing.T) {
		_, err := db.Exec("INSERT INTO t (id, p) VALUES ('c', 'nobody')")
		require.Error(t, err)
		require.False(t, errors.Is(sqlcon.HandleError(err), sqlcon.ErrUniqueViolation))
	})
}

func FuzzSQLiteDSN(f *testing.F) {
	f.Add("/tmp/hydra.db?_fk=true&_busy_timeout=5000&lock=false")
	f.Add("file::memory:?cache=shared")
	f.Add("x?_pragma=foreign_keys(0)&_pragma=(&%zz")
	f.Fuzz(func(t *testing.T, in string) {
		out := sqliteDSN(in)
		_, query, ok := strings.Cut(out, "?")
		require.True(t, ok)
		q, err := url.ParseQuery(query)
		require.NoError(t, err)
		require.NotEmpty(t, q.Get("_txlock"))
		require.Equal(t, "sqlite", q.Get("_time_format"))
	})
}
