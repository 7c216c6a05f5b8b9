package sqlstore

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/internal/clock"
)

// KeyFingerprint identifies the keys a server runs with, without revealing them. VerifyKeys compares it
// with the one recorded in the database. Make it with NewKeyFingerprint.
type KeyFingerprint struct {
	// SecretMAC is HMAC-SHA256, under the server's global secret (fosite's GlobalSecret: the HMAC key of
	// its tokens and codes, and the root of the keys derived from it), of a fixed label.
	SecretMAC []byte
	// AuditKey is the JWK thumbprint (RFC 7638, SHA-256) of the public key the audit log is signed with;
	// empty for a server without an audit log.
	AuditKey []byte
}

// keyCheckLabel is what SecretMAC authenticates.
const keyCheckLabel = "fosite-contrib/grants key check v1"

// NewKeyFingerprint returns the fingerprint of globalSecret and of auditKey, the audit log's public key
// (*ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey; nil for none).
func NewKeyFingerprint(globalSecret []byte, auditKey crypto.PublicKey) (KeyFingerprint, error) {
	if len(globalSecret) == 0 {
		return KeyFingerprint{}, errors.New("sqlstore: key fingerprint: no global secret")
	}
	m := hmac.New(sha256.New, globalSecret)
	m.Write([]byte(keyCheckLabel))
	fp := KeyFingerprint{SecretMAC: m.Sum(nil)}
	if auditKey != nil {
		tp, err := (&jose.JSONWebKey{Key: auditKey}).Thumbprint(crypto.SHA256)
		if err != nil {
			return KeyFingerprint{}, fmt.Errorf("sqlstore: key fingerprint of the audit key: %w", err)
		}
		fp.AuditKey = tp
	}
	return fp, nil
}

// ErrKeysMismatch is what VerifyKeys returns (wrapped, with the details) when the keys a server starts
// with are not those the database was first opened with.
var ErrKeysMismatch = errors.New("sqlstore: the keys do not match this database")

// VerifyKeys checks that fp, the fingerprint of the keys this server runs with, is the one recorded in
// the database, and records it when none is (the first start). Call it at start-up, before serving: a
// server with the wrong token secret cannot read a token, code or sealed record written with the right
// one, and one with the wrong audit key makes the audit chain look tampered with from the first event
// it signs. A mismatch is ErrKeysMismatch, naming which key differs and what to do: start with the
// keys the database was created with, or with a new database.
//
// The fingerprints are compared in constant time. The audit key is compared when both sides have one;
// a database that has none yet records the server's. Instances starting at once on one database agree:
// the first to record wins, and the others compare with it.
func (s *Store) VerifyKeys(ctx context.Context, fp KeyFingerprint) error {
	if len(fp.SecretMAC) == 0 {
		return errors.New("sqlstore: verify keys: empty fingerprint (use NewKeyFingerprint)")
	}
	enc := base64.RawURLEncoding.EncodeToString
	mac, audit := enc(fp.SecretMAC), enc(fp.AuditKey)
	if _, err := s.db.ExecContext(ctx, s.rebind("INSERT INTO grants_key_check (id, secret_mac, audit_key, created_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
		mac, audit, clock.Now(s.opts.now).UnixNano()); err != nil {
		return wrap(err, "record key check")
	}
	if audit != "" {
		// A database whose record has no audit key yet takes this server's, if its secret is the right one.
		if _, err := s.db.ExecContext(ctx, s.rebind("UPDATE grants_key_check SET audit_key = ? WHERE id = 1 AND audit_key = '' AND secret_mac = ?"), audit, mac); err != nil {
			return wrap(err, "record audit key check")
		}
	}
	var storedMAC, storedAudit string
	var created int64
	err := s.db.QueryRowContext(ctx, "SELECT secret_mac, audit_key, created_at FROM grants_key_check WHERE id = 1").Scan(&storedMAC, &storedAudit, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return errors.New("sqlstore: verify keys: the key check record vanished")
	} else if err != nil {
		return wrap(err, "read key check")
	}
	since := time.Unix(0, created).UTC().Format(time.RFC3339)
	if subtle.ConstantTimeCompare([]byte(storedMAC), []byte(mac)) != 1 {
		return fmt.Errorf("%w: the token secret is not the one this database was first opened with (on %s). "+
			"Start the server with the keys this database was created with, or with a new, empty database", ErrKeysMismatch, since)
	}
	if audit != "" && subtle.ConstantTimeCompare([]byte(storedAudit), []byte(audit)) != 1 {
		return fmt.Errorf("%w: the audit signing key is not the one this database's audit log was signed with since %s. "+
			"Start the server with the keys this database was created with, or with a new, empty database", ErrKeysMismatch, since)
	}
	return nil
}
