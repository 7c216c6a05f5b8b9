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
	"github.com/fosite-contrib/grants/storage/memory"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// openStore opens the store named by -db: "memory", a postgres:// URL, or a SQLite file path. The
// returned close function is never nil.
func openStore(ctx context.Context, dsn string) (server.Store, func() error, error) {
	if dsn == "memory" {
		return memory.New(), func() error { return nil }, nil // DEMO: nothing survives a restart
	}
	s, err := sqlstore.Open(ctx, dsn)
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

// loadOrCreateKeys reads the keys file, creating it (mode 0600) with new keys on first start. All
// instances sharing one database must share this file. DEMO: a production server keeps these in a
// secret manager or an HSM.
func loadOrCreateKeys(path string) ([]byte, *rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, nil, err
		}
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		k := keys{GlobalSecret: secret, SigningKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))}
		out, err := json.MarshalIndent(k, "", "  ")
		if err != nil {
			return nil, nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			return nil, nil, fmt.Errorf("write keys file: %w", err)
		}
		return secret, key, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("read keys file: %w", err)
	}
	var k keys
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	block, _ := pem.Decode([]byte(k.SigningKeyPEM))
	if block == nil || len(k.GlobalSecret) < 32 {
		return nil, nil, fmt.Errorf("keys file %s is incomplete", path)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return k.GlobalSecret, key, nil
}

// defaultKeysPath puts the keys next to a SQLite file, or in the working directory for PostgreSQL.
func defaultKeysPath(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "grants-keys.json"
	}
	return strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:") + ".keys.json"
}
