package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// SetJWTBearerKey trusts key for JWT assertions from issuer about subject in the RFC 7523 jwt-bearer
// authorization grant (RFC 7523 §3), allowing the given scopes. The key is stored under its key ID,
// replacing any key with the same issuer, subject and key ID. Store public keys only.
func (s *Store) SetJWTBearerKey(ctx context.Context, issuer, subject string, key *jose.JSONWebKey, scopes []string) error {
	if key == nil || key.KeyID == "" {
		return errors.New("sqlstore: a jwt-bearer key needs a key ID")
	}
	if !key.IsPublic() {
		return errors.New("sqlstore: a jwt-bearer key must be a public key")
	}
	b, err := json.Marshal(key)
	if err != nil {
		return fmt.Errorf("sqlstore: encode jwt-bearer key: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO oauth2_jwt_bearer_keys (issuer, subject, key_id, jwk, scopes) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (issuer, subject, key_id) DO UPDATE SET jwk = excluded.jwk, scopes = excluded.scopes`,
		issuer, subject, key.KeyID, string(b), jsonList(scopes))
	return wrap(err, "store jwt-bearer key")
}

// DeleteJWTBearerKey stops trusting a key stored with SetJWTBearerKey; fosite.ErrNotFound when there
// is none.
func (s *Store) DeleteJWTBearerKey(ctx context.Context, issuer, subject, keyID string) error {
	n, err := s.execAffected(ctx, "DELETE FROM oauth2_jwt_bearer_keys WHERE issuer = ? AND subject = ? AND key_id = ?", issuer, subject, keyID)
	if err != nil {
		return wrap(err, "delete jwt-bearer key")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

func (s *Store) jwtBearerKey(ctx context.Context, issuer, subject, keyID string) (*jose.JSONWebKey, []string, error) {
	var jwk, scopes string
	err := s.queryRow(ctx, "SELECT jwk, scopes FROM oauth2_jwt_bearer_keys WHERE issuer = ? AND subject = ? AND key_id = ?", issuer, subject, keyID).Scan(&jwk, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, nil, wrap(err, "read jwt-bearer key")
	}
	key := new(jose.JSONWebKey)
	if err := json.Unmarshal([]byte(jwk), key); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: decode jwt-bearer key: %w", err)
	}
	list, err := parseList(scopes)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: decode jwt-bearer key scopes: %w", err)
	}
	return key, list, nil
}

// GetPublicKey implements rfc7523.RFC7523KeyStorage.
func (s *Store) GetPublicKey(ctx context.Context, issuer, subject, keyID string) (*jose.JSONWebKey, error) {
	key, _, err := s.jwtBearerKey(ctx, issuer, subject, keyID)
	return key, err
}

// GetPublicKeyScopes implements rfc7523.RFC7523KeyStorage.
func (s *Store) GetPublicKeyScopes(ctx context.Context, issuer, subject, keyID string) ([]string, error) {
	_, scopes, err := s.jwtBearerKey(ctx, issuer, subject, keyID)
	return scopes, err
}

// GetPublicKeys implements rfc7523.RFC7523KeyStorage; fosite.ErrNotFound when the issuer has no keys
// for the subject.
func (s *Store) GetPublicKeys(ctx context.Context, issuer, subject string) (*jose.JSONWebKeySet, error) {
	rows, err := s.query(ctx, "SELECT jwk FROM oauth2_jwt_bearer_keys WHERE issuer = ? AND subject = ? ORDER BY key_id", issuer, subject)
	if err != nil {
		return nil, wrap(err, "read jwt-bearer keys")
	}
	defer rows.Close()
	set := &jose.JSONWebKeySet{}
	for rows.Next() {
		var jwk string
		if err := rows.Scan(&jwk); err != nil {
			return nil, wrap(err, "read jwt-bearer keys")
		}
		var key jose.JSONWebKey
		if err := json.Unmarshal([]byte(jwk), &key); err != nil {
			return nil, fmt.Errorf("sqlstore: decode jwt-bearer key: %w", err)
		}
		set.Keys = append(set.Keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "read jwt-bearer keys")
	}
	if len(set.Keys) == 0 {
		return nil, fosite.ErrNotFound
	}
	return set, nil
}
