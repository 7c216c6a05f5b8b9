package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/fosite"
)

// Refresh token rotation and grant revocation (RFC 6819 §5.2.2.3, RFC 7009 §2.1).
//
// Every statement that changes several tokens of one grant (its request ID) runs, on PostgreSQL, in a
// transaction that first takes a transaction-scoped advisory lock on the grant. Concurrent requests
// about one grant (a rotation, reuse detection, a revocation, on any instance) therefore take their
// row locks one after the other instead of in whatever order each statement's plan visits the rows,
// which deadlocked under 64 concurrent refreshes. On SQLite a write transaction holds the database's
// write lock from its first statement, which serialises them already.

// grantLockClass is the first key of the advisory locks on grants; the second is a hash of the request
// ID. PostgreSQL keeps two-key advisory locks apart from one-key ones (the migrations' lock).
const grantLockClass = 0x67726e74 // "grnt"

// lockGrant serialises changes to the tokens of grant requestID among PostgreSQL transactions; it does
// nothing on SQLite or outside a transaction. Two grants whose IDs hash alike merely wait for each other.
func (s *Store) lockGrant(ctx context.Context, requestID string) error {
	if s.dialect != postgres {
		return nil
	}
	if !s.inTx(ctx) {
		return nil
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(requestID))
	// Queued in a pipelined transaction: the lock is taken, in order, before the statements that follow.
	err := s.execLater(ctx, "lock grant", "SELECT pg_advisory_xact_lock(CAST(? AS integer), CAST(? AS integer))", int32(grantLockClass), int32(h.Sum32()))
	return wrapConflict(err, "lock grant")
}

// inGrant runs fn holding the lock of grant requestID: in the transaction ctx carries, or else (on
// PostgreSQL) in a new one. On SQLite outside a transaction fn runs as it is: each of its statements
// is atomic by itself.
func (s *Store) inGrant(ctx context.Context, requestID string, fn func(ctx context.Context) error) error {
	if !s.inTx(ctx) && s.dialect != postgres {
		return fn(ctx)
	}
	return s.withTx(ctx, func(ctx context.Context) error {
		if err := s.lockGrant(ctx, requestID); err != nil {
			return err
		}
		return fn(ctx)
	})
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage. In one transaction it deactivates the
// presented refresh token if, and only if, it is still active — one conditional UPDATE, so of any
// number of concurrent rotations of one token, on any number of instances, exactly one succeeds — and
// then deactivates the grant's other refresh tokens and deletes its access tokens, before fosite
// stores the new pair. A token already rotated or revoked is fosite.ErrInactiveToken, an unknown one
// fosite.ErrNotFound: fosite then stores nothing, and handler/refresh answers invalid_grant.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, refreshTokenSignature string) error {
	return s.withTx(ctx, func(ctx context.Context) error {
		if err := s.lockGrant(ctx, requestID); err != nil {
			return err
		}
		n, err := s.execAffected(ctx, "UPDATE "+tableRefreshTokens+" SET active = ? WHERE signature = ? AND active = ?", false, refreshTokenSignature, true)
		if err != nil {
			return wrapConflict(err, "rotate refresh token")
		}
		if n == 0 {
			var one int
			err := s.queryRow(ctx, "SELECT 1 FROM "+tableRefreshTokens+" WHERE signature = ?", refreshTokenSignature).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fosite.ErrNotFound
			} else if err != nil {
				return wrapConflict(err, "rotate refresh token")
			}
			return fmt.Errorf("sqlstore: the refresh token was rotated or revoked by another request: %w", fosite.ErrInactiveToken)
		}
		if err := s.revokeRefreshTokens(ctx, requestID); err != nil {
			return err
		}
		return s.revokeAccessTokens(ctx, requestID)
	})
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage. fosite calls it first when it
// detects reuse, before revoking the grant, so on PostgreSQL it takes the grant's lock first too.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	var requestID string
	err := s.queryRow(ctx, "SELECT request_id FROM "+tableRefreshTokens+" WHERE signature = ?", signature).Scan(&requestID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return wrapConflict(err, "delete refresh token")
	}
	return s.inGrant(ctx, requestID, func(ctx context.Context) error {
		_, err := s.exec(ctx, "DELETE FROM "+tableRefreshTokens+" WHERE signature = ?", signature)
		return wrapConflict(err, "delete refresh token")
	})
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage (RFC 7009 §2.1): the refresh tokens of
// the grant with that request ID become inactive. They stay stored, so that reuse is recognised.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.inGrant(ctx, requestID, func(ctx context.Context) error { return s.revokeRefreshTokens(ctx, requestID) })
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage (RFC 7009 §2.1): the access tokens of the
// grant with that request ID are deleted.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.inGrant(ctx, requestID, func(ctx context.Context) error { return s.revokeAccessTokens(ctx, requestID) })
}

func (s *Store) revokeRefreshTokens(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "UPDATE "+tableRefreshTokens+" SET active = ? WHERE request_id = ? AND active = ?", false, requestID, true)
	return wrapConflict(err, "revoke refresh tokens")
}

func (s *Store) revokeAccessTokens(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "DELETE FROM "+tableAccessTokens+" WHERE request_id = ?", requestID)
	return wrapConflict(err, "revoke access tokens")
}

// wrapConflict is wrap, adding fosite.ErrSerializationFailure to PostgreSQL's serialization failures
// and deadlocks (SQLSTATE 40001, 40P01): transactions that lost to a concurrent one, which fosite's
// refresh handler answers as such rather than as a server error.
func wrapConflict(err error, what string) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01") {
		return fmt.Errorf("sqlstore: %s: %w", what, errors.Join(fosite.ErrSerializationFailure, err))
	}
	return wrap(err, what)
}
