package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/clock"
)

// ErrClientExists is returned by CreateClient when a client with that ID is already stored.
var ErrClientExists = errors.New("sqlstore: a client with this ID already exists")

// Client is a client as the store returns it: fosite's OpenID Connect client (RFC 7591 registration
// fields) plus per-client token lifespans and free-form registration metadata.
//
// A client stored without a token_endpoint_auth_method (for example a *fosite.DefaultClient) is
// returned as a client that is not a fosite.OpenIDConnectClient, so that fosite accepts the same
// authentication methods for it as it does for DefaultClient.
type Client struct {
	fosite.DefaultOpenIDConnectClient
	// TokenLifespans, when set, overrides the server's token lifespans for this client.
	TokenLifespans *fosite.ClientLifespanConfig
	// Metadata holds registration metadata the grants of this module read (for example CIBA's
	// backchannel_token_delivery_mode and backchannel_client_notification_endpoint, OpenID CIBA Core
	// §4). It is stored as JSON, so values come back as JSON types (string, float64, bool, ...).
	Metadata map[string]any
}

// GetEffectiveLifespan implements fosite.ClientWithCustomTokenLifespans.
func (c *Client) GetEffectiveLifespan(gt fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	return (&fosite.DefaultClientWithCustomTokenLifespans{TokenLifespans: c.TokenLifespans}).GetEffectiveLifespan(gt, tt, fallback)
}

// GetTokenLifespans returns the client's token lifespans, nil when it uses the server's.
func (c *Client) GetTokenLifespans() *fosite.ClientLifespanConfig { return c.TokenLifespans }

// GetMetadata returns the client's registration metadata.
func (c *Client) GetMetadata() map[string]any { return c.Metadata }

// plainClient is a Client stored without a token endpoint authentication method.
type plainClient struct {
	*fosite.DefaultClient
	lifespans *fosite.ClientLifespanConfig
	metadata  map[string]any
}

func (c *plainClient) GetEffectiveLifespan(gt fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	return (&fosite.DefaultClientWithCustomTokenLifespans{TokenLifespans: c.lifespans}).GetEffectiveLifespan(gt, tt, fallback)
}

func (c *plainClient) GetTokenLifespans() *fosite.ClientLifespanConfig { return c.lifespans }

func (c *plainClient) GetMetadata() map[string]any { return c.metadata }

// clientColumns are the columns of oauth2_clients written and read by this file, in order.
const clientColumns = "id, secret_hash, rotated_secret_hashes, redirect_uris, grant_types, response_types, scopes, audience, public, " +
	"token_endpoint_auth_method, token_endpoint_auth_signing_alg, request_object_signing_alg, request_uris, jwks, jwks_uri, token_lifespans, metadata"

// clientArgs encodes any fosite.Client into the values of clientColumns. Optional capabilities are
// read through fosite's interfaces: secret rotation, OpenID Connect registration, token lifespans and
// metadata (a GetMetadata() map[string]any method).
func clientArgs(c fosite.Client) ([]any, error) {
	if c == nil || c.GetID() == "" {
		return nil, errors.New("sqlstore: a client needs an ID")
	}
	var rotated []string
	if r, ok := c.(fosite.ClientWithSecretRotation); ok {
		for _, h := range r.GetRotatedHashes() {
			rotated = append(rotated, string(h))
		}
	}
	var (
		method, signingAlg, requestAlg, jwksURI string
		requestURIs                             []string
		jwks                                    sql.NullString
	)
	if o, ok := c.(fosite.OpenIDConnectClient); ok {
		method, signingAlg, requestAlg = o.GetTokenEndpointAuthMethod(), o.GetTokenEndpointAuthSigningAlgorithm(), o.GetRequestObjectSigningAlgorithm()
		jwksURI, requestURIs = o.GetJSONWebKeysURI(), o.GetRequestURIs()
		if ks := o.GetJSONWebKeys(); ks != nil {
			b, err := json.Marshal(ks)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: encode JWKS of client %q: %w", c.GetID(), err)
			}
			jwks = sql.NullString{String: string(b), Valid: true}
		}
	}
	var lifespans sql.NullString
	if l, ok := c.(interface {
		GetTokenLifespans() *fosite.ClientLifespanConfig
	}); ok && l.GetTokenLifespans() != nil {
		b, err := json.Marshal(l.GetTokenLifespans())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: encode token lifespans of client %q: %w", c.GetID(), err)
		}
		lifespans = sql.NullString{String: string(b), Valid: true}
	}
	metadata := "{}"
	if m, ok := c.(interface{ GetMetadata() map[string]any }); ok && len(m.GetMetadata()) > 0 {
		b, err := json.Marshal(m.GetMetadata())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: encode metadata of client %q: %w", c.GetID(), err)
		}
		metadata = string(b)
	}
	return []any{
		c.GetID(), string(c.GetHashedSecret()), jsonList(rotated), jsonList(c.GetRedirectURIs()), jsonList(c.GetGrantTypes()),
		jsonList(c.GetResponseTypes()), jsonList(c.GetScopes()), jsonList(c.GetAudience()), c.IsPublic(),
		method, signingAlg, requestAlg, jsonList(requestURIs), jwks, jwksURI, lifespans, metadata,
	}, nil
}

// CreateClient stores a new client, or returns ErrClientExists. The secret is stored as the client
// gives it: pass the hash (fosite's Hasher output, e.g. bcrypt), never the plain secret.
func (s *Store) CreateClient(ctx context.Context, c fosite.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	s.forgetClient(c.GetID())
	defer s.forgetClient(c.GetID())
	now := clock.Now(s.opts.now).UnixNano()
	n, err := s.execAffected(ctx, "INSERT INTO oauth2_clients ("+clientColumns+", created_at, updated_at) VALUES ("+placeholders(len(args)+2)+") ON CONFLICT (id) DO NOTHING",
		append(args, now, now)...)
	if err != nil {
		return wrap(err, "create client")
	}
	if n == 0 {
		return ErrClientExists
	}
	return nil
}

// UpdateClient replaces a stored client, or returns fosite.ErrNotFound.
func (s *Store) UpdateClient(ctx context.Context, c fosite.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	s.forgetClient(c.GetID())
	defer s.forgetClient(c.GetID())
	n, err := s.execAffected(ctx, `UPDATE oauth2_clients SET secret_hash = ?, rotated_secret_hashes = ?, redirect_uris = ?, grant_types = ?,
		response_types = ?, scopes = ?, audience = ?, public = ?, token_endpoint_auth_method = ?, token_endpoint_auth_signing_alg = ?,
		request_object_signing_alg = ?, request_uris = ?, jwks = ?, jwks_uri = ?, token_lifespans = ?, metadata = ?, updated_at = ?
		WHERE id = ?`, append(append(args[1:], clock.Now(s.opts.now).UnixNano()), args[0])...)
	if err != nil {
		return wrap(err, "update client")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// SetClient creates the client or replaces the stored one.
func (s *Store) SetClient(ctx context.Context, c fosite.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	s.forgetClient(c.GetID())
	defer s.forgetClient(c.GetID())
	now := clock.Now(s.opts.now).UnixNano()
	_, err = s.exec(ctx, "INSERT INTO oauth2_clients ("+clientColumns+", created_at, updated_at) VALUES ("+placeholders(len(args)+2)+")"+
		` ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, rotated_secret_hashes = excluded.rotated_secret_hashes,
		redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types, response_types = excluded.response_types,
		scopes = excluded.scopes, audience = excluded.audience, public = excluded.public,
		token_endpoint_auth_method = excluded.token_endpoint_auth_method, token_endpoint_auth_signing_alg = excluded.token_endpoint_auth_signing_alg,
		request_object_signing_alg = excluded.request_object_signing_alg, request_uris = excluded.request_uris, jwks = excluded.jwks,
		jwks_uri = excluded.jwks_uri, token_lifespans = excluded.token_lifespans, metadata = excluded.metadata, updated_at = excluded.updated_at`,
		append(args, now, now)...)
	return wrap(err, "set client")
}

// DeleteClient deletes a client and, through the schema's cascades, everything issued to it: codes,
// tokens, PKCE and OpenID Connect sessions, pushed requests and pending grants. It returns
// fosite.ErrNotFound when there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	s.forgetClient(id)
	defer s.forgetClient(id)
	n, err := s.execAffected(ctx, "DELETE FROM oauth2_clients WHERE id = ?", id)
	if err != nil {
		return wrap(err, "delete client")
	}
	if n == 0 {
		return fosite.ErrNotFound
	}
	return nil
}

// GetClient implements fosite.ClientManager: it returns the stored client (see Client), or
// fosite.ErrNotFound; with WithClients, the client of the source.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if s.opts.clients != nil {
		return s.opts.clients.GetClient(ctx, id)
	}
	if c, ok := s.cachedClient(ctx, id); ok {
		return c, nil
	}
	read := clock.Now(s.opts.now)
	c, err := s.readClient(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cacheClient(ctx, id, c, read)
	return c, nil
}

func (s *Store) readClient(ctx context.Context, id string) (fosite.Client, error) {
	var (
		cid, secret, rotated, redirects, grants, responses, scopes, audience string
		public                                                               bool
		method, signingAlg, requestAlg, requestURIs, jwksURI, metadata       string
		jwks, lifespans                                                      sql.NullString
	)
	err := s.queryRow(ctx, "SELECT "+clientColumns+" FROM oauth2_clients WHERE id = ?", id).Scan(
		&cid, &secret, &rotated, &redirects, &grants, &responses, &scopes, &audience, &public,
		&method, &signingAlg, &requestAlg, &requestURIs, &jwks, &jwksURI, &lifespans, &metadata)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, wrap(err, "get client")
	}

	dc := &fosite.DefaultClient{ID: cid, Public: public}
	if secret != "" {
		dc.Secret = []byte(secret)
	}
	lists := []struct {
		dst *[]string
		src string
	}{{&dc.RedirectURIs, redirects}, {&dc.GrantTypes, grants}, {&dc.ResponseTypes, responses}, {&dc.Scopes, scopes}, {&dc.Audience, audience}}
	var rotatedList, requestURIList []string
	lists = append(lists, struct {
		dst *[]string
		src string
	}{&rotatedList, rotated}, struct {
		dst *[]string
		src string
	}{&requestURIList, requestURIs})
	for _, l := range lists {
		if *l.dst, err = parseList(l.src); err != nil {
			return nil, fmt.Errorf("sqlstore: decode client %q: %w", id, err)
		}
	}
	for _, h := range rotatedList {
		dc.RotatedSecrets = append(dc.RotatedSecrets, []byte(h))
	}

	var ls *fosite.ClientLifespanConfig
	if lifespans.Valid {
		ls = new(fosite.ClientLifespanConfig)
		if err := json.Unmarshal([]byte(lifespans.String), ls); err != nil {
			return nil, fmt.Errorf("sqlstore: decode token lifespans of client %q: %w", id, err)
		}
	}
	var md map[string]any
	if err := json.Unmarshal([]byte(metadata), &md); err != nil {
		return nil, fmt.Errorf("sqlstore: decode metadata of client %q: %w", id, err)
	}
	if len(md) == 0 {
		md = nil
	}

	if method == "" {
		return &plainClient{DefaultClient: dc, lifespans: ls, metadata: md}, nil
	}
	c := &Client{
		DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{
			DefaultClient:                     dc,
			JSONWebKeysURI:                    jwksURI,
			TokenEndpointAuthMethod:           method,
			RequestURIs:                       requestURIList,
			RequestObjectSigningAlgorithm:     requestAlg,
			TokenEndpointAuthSigningAlgorithm: signingAlg,
		},
		TokenLifespans: ls,
		Metadata:       md,
	}
	if jwks.Valid {
		c.JSONWebKeys = new(jose.JSONWebKeySet)
		if err := json.Unmarshal([]byte(jwks.String), c.JSONWebKeys); err != nil {
			return nil, fmt.Errorf("sqlstore: decode JWKS of client %q: %w", id, err)
		}
	}
	return c, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager: it returns fosite.ErrJTIKnown when the JWT
// ID was already used by a client assertion that has not expired (RFC 7523 §3, item 7).
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	var one int
	err := s.queryRow(ctx, "SELECT 1 FROM oauth2_jtis WHERE jti = ? AND expires_at > ?", jti, clock.Now(s.opts.now).UnixNano()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return wrap(err, "check JWT ID")
	default:
		return fosite.ErrJTIKnown
	}
}

// SetClientAssertionJWT implements fosite.ClientManager: it records the JWT ID until exp, or returns
// fosite.ErrJTIKnown when it is already recorded and not expired. Check and record are one atomic
// step, so of two instances racing with the same assertion one fails.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	now := clock.Now(s.opts.now).UnixNano()
	// An expired record no longer counts: drop it, so the insert below can take the ID.
	if _, err := s.exec(ctx, "DELETE FROM oauth2_jtis WHERE jti = ? AND expires_at < ?", jti, now); err != nil {
		return wrap(err, "record JWT ID")
	}
	n, err := s.execAffected(ctx, "INSERT INTO oauth2_jtis (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING", jti, exp.UnixNano())
	if err != nil {
		return wrap(err, "record JWT ID")
	}
	if n == 0 {
		return fosite.ErrJTIKnown
	}
	return nil
}

// IsJWTUsed implements rfc7523.RFC7523KeyStorage (RFC 7523 §3, item 7).
func (s *Store) IsJWTUsed(ctx context.Context, jti string) (bool, error) {
	err := s.ClientAssertionJWTValid(ctx, jti)
	if errors.Is(err, fosite.ErrJTIKnown) {
		return true, nil
	}
	return false, err
}

// MarkJWTUsedForTime implements rfc7523.RFC7523KeyStorage.
func (s *Store) MarkJWTUsedForTime(ctx context.Context, jti string, exp time.Time) error {
	return s.SetClientAssertionJWT(ctx, jti, exp)
}

// Authenticate implements oauth2.ResourceOwnerPasswordCredentialsGrantStorage by calling the function
// given with WithPasswordAuthenticator; without one it returns fosite.ErrNotFound.
func (s *Store) Authenticate(ctx context.Context, username, password string) (string, error) {
	if s.opts.authenticate == nil {
		return "", fosite.ErrNotFound.WithDebug("This store keeps no user accounts.")
	}
	return s.opts.authenticate(ctx, username, password)
}
