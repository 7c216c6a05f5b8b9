package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

// TestMigration00080 upgrades a database holding what version 00060 stored — a CIBA push request with
// its ciba_requests record and a link already mailed, an OTP challenge whose send time and resend
// interval were kept in the polling columns — and checks that nothing a user did is lost: the request
// keeps its user and its callback (sealed values byte for byte, whether it was notified), the link now
// names the request by its request ID (the Decider's reference), the challenge's send time and
// interval have columns of their own, and ciba_requests is gone.
func TestMigration00080(t *testing.T) {
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "old.db")}
	if base := os.Getenv("GRANTS_TEST_POSTGRES_DSN"); base != "" {
		dsns["postgres"] = migrationSchema(t, base)
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, dsn, WithoutMigrations())
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			require.NoError(t, s.migrate(ctx, func(p *goose.Provider) error {
				_, err := p.UpTo(ctx, 60)
				return err
			}))
			require.NoError(t, s.SetClient(ctx, &fosite.DefaultClient{ID: "c1", Secret: []byte("x")}))

			t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
			exp := t0.Add(10 * time.Minute)
			insert := func(kind, sig, rid, subject, extra string, lastPolled sql.NullInt64, interval int64) {
				_, err := s.exec(ctx, `INSERT INTO pending_grants (kind, handle_signature, request_id, requested_at, client_id,
					requested_scopes, granted_scopes, requested_audience, granted_audience, form, session_data, state,
					created_at, expires_at, interval_ns, last_polled_at, subject, extra)
					VALUES (?, ?, ?, ?, 'c1', '["openid"]', '[]', '[]', '[]', '{}', 'null', 'pending', ?, ?, ?, ?, ?, ?)`,
					kind, sig, rid, t0.UnixNano(), t0.UnixNano(), exp.UnixNano(), interval, lastPolled, subject, extra)
				require.NoError(t, err)
			}
			insert("ciba", "ciba-sig", "req-ciba", "", `{"ciba_mode":"push","ciba_ref":"old-ref"}`, sql.NullInt64{}, 5e9)
			insert("ciba", "ciba-poll", "req-poll", "", `{"ciba_mode":"poll","ciba_ref":"poll-ref"}`, sql.NullInt64{}, 5e9)
			insert("otp", "otp-sig", "req-otp", "alice", `{"channel":"sms-1"}`, sql.NullInt64{Int64: t0.Add(time.Second).UnixNano(), Valid: true}, 30e9)
			_, err = s.exec(ctx, `INSERT INTO ciba_requests (ref, handle_signature, subject, client_id, mode, notification_endpoint,
				sealed_token, sealed_auth_req_id, created_at, expires_at, notified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				"old-ref", "ciba-sig", "alice", "c1", "push", "https://client.example/cb", []byte{0, 1, 255}, []byte("sealed"), t0.UnixNano(), exp.UnixNano(), 1)
			require.NoError(t, err)
			_, err = s.exec(ctx, `INSERT INTO ciba_requests (ref, handle_signature, subject, client_id, mode, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, "poll-ref", "ciba-poll", "bob", "c1", "poll", t0.UnixNano(), exp.UnixNano())
			require.NoError(t, err)
			_, err = s.exec(ctx, `INSERT INTO ciba_links (signature, ref, subject, client_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
				"link-sig", "old-ref", "alice", "c1", t0.UnixNano(), exp.UnixNano())
			require.NoError(t, err)

			require.NoError(t, s.Migrate(ctx))

			g, err := s.GetPendingGrant(ctx, pending.KindCIBA, "ciba-sig", nil)
			require.NoError(t, err)
			require.Equal(t, "alice", g.Subject)
			require.Equal(t, &pending.Callback{Endpoint: "https://client.example/cb", SealedToken: []byte{0, 1, 255},
				SealedHandle: []byte("sealed"), OnExpiry: true, Notified: true}, g.Callback)
			require.Equal(t, "old-ref", g.Extra["ciba_ref"], "its sealed values stay bound to the old reference")
			poll, err := s.GetPendingGrant(ctx, pending.KindCIBA, "ciba-poll", nil)
			require.NoError(t, err)
			require.Equal(t, "bob", poll.Subject)
			require.Nil(t, poll.Callback)
			mine, err := s.ListPendingGrantsBySubject(ctx, pending.KindCIBA, "alice", t0)
			require.NoError(t, err)
			require.Len(t, mine, 1)

			l, err := s.GetCIBALink(ctx, "link-sig")
			require.NoError(t, err)
			require.Equal(t, "req-ciba", l.Ref, "the link names the request by its request ID")

			o, err := s.GetPendingGrant(ctx, pending.KindOTP, "otp-sig", nil)
			require.NoError(t, err)
			require.True(t, o.CodeSentAt.Equal(t0.Add(time.Second)))
			require.Equal(t, 30*time.Second, o.ResendInterval)
			require.True(t, o.LastPolledAt.IsZero())
			require.Zero(t, o.Interval)

			var n int
			require.Error(t, s.queryRow(ctx, "SELECT COUNT(*) FROM ciba_requests").Scan(&n), "ciba_requests is gone")
		})
	}
}

// migrationSchema returns a DSN for a schema of the test's own in the PostgreSQL database base names.
func migrationSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "grants_migration_" + hex.EncodeToString(b[:])
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
