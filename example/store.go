package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/observe"
	"github.com/fosite-contrib/grants/storage/memory"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// openStore opens the store named by -db: "memory", a postgres:// URL, or a SQLite file path. The
// returned close function is never nil.
func openStore(ctx context.Context, dsn string, o observe.Store) (server.Store, func() error, error) {
	if dsn == "memory" {
		return memory.New(), func() error { return nil }, nil // DEMO: nothing survives a restart
	}
	s, err := sqlstore.Open(ctx, dsn, sqlstore.WithObserver(o))
	if err != nil {
		return nil, func() error { return nil }, err
	}
	return s, s.Close, nil
}

// keys is what must survive a restart besides the database: the HMAC secret behind every token and
// code (tokens issued before a restart stay valid only if it does) and the ID-token signing key.
type keys struct {
	GlobalSecret  []byte `json:"global_secret"`
	SigningKeyPEM string `json:"signing_key_pem"`
}

// loadOrCreateKeys reads the keys file, creating it (mode 0600) with new keys on first start; created
// reports that it did. All instances sharing one database must share this file. DEMO: a production
// server keeps these in a secret manager or an HSM.
func loadOrCreateKeys(path string) (secret []byte, key *rsa.PrivateKey, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, nil, false, err
		}
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, false, err
		}
		k := keys{GlobalSecret: secret, SigningKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))}
		out, err := json.MarshalIndent(k, "", "  ")
		if err != nil {
			return nil, nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, false, err
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return nil, nil, false, fmt.Errorf("write keys file: %w", err)
		}
		return secret, key, true, nil
	} else if err != nil {
		return nil, nil, false, fmt.Errorf("read keys file: %w", err)
	}
	var k keys
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, nil, false, fmt.Errorf("keys file %s: %w", path, err)
	}
	block, _ := pem.Decode([]byte(k.SigningKeyPEM))
	if block == nil || len(k.GlobalSecret) < 32 {
		return nil, nil, false, fmt.Errorf("keys file %s is incomplete", path)
	}
	key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, false, fmt.Errorf("keys file %s: %w", path, err)
	}
	return k.GlobalSecret, key, false, nil
}

// verifyKeys refuses to serve with keys other than those the database was created with
// (sqlstore.Store.VerifyKeys): such a server could read none of the tokens and sealed records, and its
// audit log would look tampered with from its first event. A keys file made just now for such a
// database is removed again, since it matches nothing.
func verifyKeys(ctx context.Context, s *sqlstore.Store, opts server.Options, keysPath, dsn string, created bool) error {
	pub, err := server.AuditPublicKey(opts)
	if err != nil {
		return err
	}
	fp, err := sqlstore.NewKeyFingerprint(opts.GlobalSecret, pub)
	if err != nil {
		return err
	}
	err = s.VerifyKeys(ctx, fp)
	if !errors.Is(err, sqlstore.ErrKeysMismatch) {
		return err
	}
	const flags = "(-keys names the keys file, -db the database)"
	if created {
		_ = os.Remove(keysPath)
		return fmt.Errorf("there is no keys file at %s, and the database %s was created with other keys: %w %s", keysPath, redactDSN(dsn), err, flags)
	}
	return fmt.Errorf("the keys file %s does not match the database %s: %w %s", keysPath, redactDSN(dsn), err, flags)
}

// defaultKeysPath puts the keys next to a SQLite file, or in the working directory for PostgreSQL.
func defaultKeysPath(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "grants-keys.json"
	}
	return strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:") + ".keys.json"
}
