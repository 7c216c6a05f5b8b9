// Package signin is what a server's own sign-in pages need from this module: server-side browser
// sessions that signing out really ends, and a check that keeps the page a person is sent back to after
// signing in on the server's own origin.
//
// The grants leave signing people in to the server (RFC 8628 §3.3: "the authorization server should
// prompt the user to authenticate"; CIBA's authentication device; the staffed kiosk). The example server
// (example/server) shows a complete sign-in built on this package: CSRF tokens on every form, attempt
// limits per account and per address that cannot lock out the account's owner, and sessions kept here.
//
// # Sessions
//
// The browser holds a random session ID (NewSessionID: 256 bits from crypto/rand, in an HttpOnly
// cookie). The store keeps only the SHA-256 hash of the ID (HashSessionID) with the subject, the time of
// authentication and the expiry, so that a copy of the database does not give working cookies, and
// deleting the row ends the session everywhere: a cookie copied before sign-out no longer works after
// it. storage/memory and storage/sql implement Storage (SQLite and PostgreSQL, so sessions survive a
// restart and are shared by every instance); storage/storagetest has the conformance suite.
//
// # Return paths
//
// A sign-in page usually takes the page to go back to as a parameter (?return_to=/device?user_code=…).
// Left unchecked, that parameter makes the server an open redirector that phishing pages can borrow.
// ReturnPath accepts only a path on the same origin, judged the way a browser will read the Location
// header it ends up in, and replaces anything else by "/".
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Session is one signed-in browser, as the server keeps it.
type Session struct {
	// IDHash is HashSessionID of the session ID the browser holds; it is the key.
	IDHash string
	// Subject is who signed in.
	Subject string
	// AuthTime is when they authenticated (OpenID Connect Core 1.0 §2, auth_time).
	AuthTime time.Time
	// ExpiresAt is when the session ends even if nobody signs out.
	ExpiresAt time.Time
}

// Storage keeps sessions. Implementations are safe for concurrent use.
type Storage interface {
	// CreateSignInSession stores a new session. It returns an error, and changes nothing, when a
	// session with the same IDHash exists.
	CreateSignInSession(ctx context.Context, s *Session) error
	// GetSignInSession returns the session whose IDHash is idHash, or fosite.ErrNotFound when there is
	// none or it has expired at now.
	GetSignInSession(ctx context.Context, idHash string, now time.Time) (*Session, error)
	// DeleteSignInSession ends a session. Ending one that does not exist is not an error, so that
	// signing out twice is harmless.
	DeleteSignInSession(ctx context.Context, idHash string) error
}

// sessionIDBytes is the entropy of a session ID.
const sessionIDBytes = 32

// NewSessionID returns a new session ID for the browser's cookie (43 characters, base64url) and the
// hash the store keeps.
func NewSessionID() (id, idHash string, err error) {
	b := make([]byte, sessionIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	id = base64.RawURLEncoding.EncodeToString(b)
	return id, HashSessionID(id), nil
}

// HashSessionID is the key under which the store keeps the session of id: SHA-256, base64url. The ID
// carries 256 random bits, so a plain hash is enough to make the stored key useless as a cookie.
func HashSessionID(id string) string {
	h := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// WellFormedSessionID reports whether id has the shape NewSessionID gives, so that a cookie of another
// shape is refused without asking the store.
func WellFormedSessionID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil
}
