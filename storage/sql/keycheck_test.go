package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

func fingerprint(t *testing.T, secret string, auditKey *ecdsa.PrivateKey) sqlstore.KeyFingerprint {
	t.Helper()
	var pub any
	if auditKey != nil {
		pub = &auditKey.PublicKey
	}
	fp, err := sqlstore.NewKeyFingerprint([]byte(secret), pub)
	require.NoError(t, err)
	return fp
}

// TestVerifyKeys: the first start records the keys; later starts with the same keys, on any instance,
// pass; another token secret or another audit key is refused with ErrKeysMismatch and a message that
// says which key and what to do.
func TestVerifyKeys(t *testing.T) {
	ctx := context.Background()
	secret, otherSecret := "the-token-secret-of-this-database", "the-token-secret-of-another-one!"
	audit, otherAudit := mustECKey(t), mustECKey(t)
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, c := range []struct {
			name   string
			first  sqlstore.KeyFingerprint // recorded at the first start
			then   sqlstore.KeyFingerprint // a later start
			refuse string                  // "" when the later start passes, else what the error names
		}{
			{"same keys", fingerprint(t, secret, audit), fingerprint(t, secret, audit), ""},
			{"another token secret", fingerprint(t, secret, audit), fingerprint(t, otherSecret, audit), "token secret"},
			{"another audit key", fingerprint(t, secret, audit), fingerprint(t, secret, otherAudit), "audit signing key"},
			{"another of both", fingerprint(t, secret, audit), fingerprint(t, otherSecret, otherAudit), "token secret"},
			{"an audit key where there was none", fingerprint(t, secret, nil), fingerprint(t, secret, audit), ""},
			{"no audit key where there was one", fingerprint(t, secret, audit), fingerprint(t, secret, nil), ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				dsn := b.fresh(t)
				require.NoError(t, open(t, dsn).VerifyKeys(ctx, c.first), "the first start records its keys")
				require.NoError(t, open(t, dsn).VerifyKeys(ctx, c.first), "a restart with the same keys")

				err := open(t, dsn).VerifyKeys(ctx, c.then)
				if c.refuse == "" {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, sqlstore.ErrKeysMismatch)
				require.Contains(t, err.Error(), c.refuse)
				require.Contains(t, err.Error(), "Start the server with the keys this database was created with, or with a new, empty database")
				require.NoError(t, open(t, dsn).VerifyKeys(ctx, c.first), "a refused start records nothing")
			})
		}

		t.Run("an audit key recorded later is checked from then on", func(t *testing.T) {
			t.Parallel()
			dsn := b.fresh(t)
			s := open(t, dsn)
			require.NoError(t, s.VerifyKeys(ctx, fingerprint(t, secret, nil)))
			require.ErrorIs(t, s.VerifyKeys(ctx, fingerprint(t, otherSecret, otherAudit)), sqlstore.ErrKeysMismatch)
			require.NoError(t, s.VerifyKeys(ctx, fingerprint(t, secret, audit)), "the wrong secret did not record its audit key")
			require.ErrorIs(t, s.VerifyKeys(ctx, fingerprint(t, secret, otherAudit)), sqlstore.ErrKeysMismatch)
		})

		t.Run("instances starting at once agree on the first keys", func(t *testing.T) {
			t.Parallel()
			dsn := b.fresh(t)
			open(t, dsn) // migrate once
			fps := []sqlstore.KeyFingerprint{fingerprint(t, secret, audit), fingerprint(t, otherSecret, otherAudit)}
			errs := make([]error, 8)
			var wg sync.WaitGroup
			for i := range errs {
				s := open(t, dsn)
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.VerifyKeys(ctx, fps[i%2])
				}()
			}
			wg.Wait()
			var passed []int
			for i, err := range errs {
				if err == nil {
					passed = append(passed, i%2)
				} else {
					require.ErrorIs(t, err, sqlstore.ErrKeysMismatch)
				}
			}
			require.Len(t, passed, 4, "the instances with one set of keys start, the others do not")
			for _, p := range passed {
				require.Equal(t, passed[0], p)
			}
		})
	})
}

// TestNewKeyFingerprint: the fingerprint is stable for the same keys, differs for others, reveals
// neither (it holds no key bytes), and needs a secret.
func TestNewKeyFingerprint(t *testing.T) {
	audit := mustECKey(t)
	a, b := fingerprint(t, "secret-one-secret-one-secret-one", audit), fingerprint(t, "secret-one-secret-one-secret-one", audit)
	require.Equal(t, a, b)
	require.Len(t, a.SecretMAC, 32)
	require.Len(t, a.AuditKey, 32)
	require.NotEqual(t, a.SecretMAC, fingerprint(t, "secret-two-secret-two-secret-two", audit).SecretMAC)
	require.NotEqual(t, a.AuditKey, fingerprint(t, "secret-one-secret-one-secret-one", mustECKey(t)).AuditKey)
	require.False(t, bytes.Contains(a.SecretMAC, []byte("secret-one")))
	_, err := sqlstore.NewKeyFingerprint(nil, nil)
	require.Error(t, err)

	s := open(t, sqliteBackend.fresh(t), sqlstore.WithClock(func() time.Time { return t0 }))
	require.NoError(t, s.VerifyKeys(context.Background(), a))
	err = s.VerifyKeys(context.Background(), fingerprint(t, "secret-two-secret-two-secret-two", audit))
	require.ErrorContains(t, err, "first opened with (on 2026-03-01T12:00:00Z)", "the message says since when")
}
