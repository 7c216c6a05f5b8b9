package hydragrants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"
	"github.com/ory/hydra/v2/persistence"
	"github.com/ory/x/sqlcon"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/outbox"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// grantTables is what this module's SQL store keeps for the grants in Hydra's database: pending grants,
// attempt counters, the lookups of the device grant's kiosk and alerts, CIBA's callbacks, OTP codes,
// the outbox and the audit log.
type grantTables interface {
	pending.Storage
	pending.AttemptStorage
	pending.IndexStorage
	pending.CallbackStorage
	ListPendingGrantsByLoginHint(ctx context.Context, kind pending.Kind, loginHint string, now time.Time) ([]*pending.Grant, error)
	ListApprovedGrants(ctx context.Context, kind pending.Kind, subject, clientID string, since time.Time, limit int) ([]*pending.Grant, error)
	ListExpiredGrants(ctx context.Context, kind pending.Kind, after, now time.Time, limit int) ([]*pending.Grant, error)
	otp.ChallengeStorage
	outbox.Storage
	audit.Storage
}

var _ grantTables = (*sqlstore.Store)(nil)

// Store is the storage this module's grants get inside a Hydra server. Their own tables (pending
// grants, attempt counters, OTP codes, the outbox, the audit log) are this module's SQL store, living in
// Hydra's database; everything fosite stores — clients, access and refresh tokens — is Hydra's
// persister's. So a token a grant issues is a Hydra token (Hydra's introspection, revocation and
// userinfo endpoints know it), and a client is whatever Hydra's admin API made it.
//
// Transactions are Hydra's: BeginTX, Commit and Rollback are the persister's, which carries its
// transaction in the context, and the SQL store joins the transaction it finds there
// (sqlstore.WithContextTx). A redemption therefore consumes the pending grant and stores Hydra's tokens
// in one transaction: Hydra's token endpoint already runs the grant's token handler in one, which
// BeginTX joins.
//
// Get one from Grants (each of its factories composes its grant with the same Store).
type Store struct {
	grantTables
	sql   *sqlstore.Store
	hydra persistence.Persister
	tx    storage.Transactional // hydra's
	// rows remembers the client IDs known to have a row in the SQL store's own client table, which the
	// foreign keys of the grant tables need (see CreatePendingGrant).
	rows sync.Map
}

var (
	_ rfc8628.Storage       = (*Store)(nil)
	_ rfc8628.KioskStorage  = (*Store)(nil)
	_ otp.Storage           = (*Store)(nil)
	_ storage.Transactional = (*Store)(nil)
)

// NewStore opens this module's SQL store in the database of Hydra's persister p and returns the Store
// on both. Unless migrate is false, this module's migrations are applied; they create only its own
// tables (and grants_schema_migrations), beside Hydra's. SQLite and PostgreSQL are supported.
func NewStore(ctx context.Context, p persistence.Persister, migrate bool) (*Store, error) {
	conn := p.Connection(ctx)
	var dialect string
	switch name := conn.Dialect.Name(); name {
	case "sqlite3":
		dialect = "sqlite"
	case "postgres":
		dialect = "postgres"
	default:
		return nil, fmt.Errorf("hydragrants: Hydra's database is %s; this module's tables need SQLite or PostgreSQL", name)
	}
	tx, ok := p.(storage.Transactional)
	if !ok {
		return nil, fmt.Errorf("hydragrants: Hydra's persister (%T) does not implement fosite's storage.Transactional", p)
	}
	s := &Store{hydra: p, tx: tx}
	opts := []sqlstore.Option{sqlstore.WithContextTx(s.popTx), sqlstore.WithClients(hydraClients{p})}
	if !migrate {
		opts = append(opts, sqlstore.WithoutMigrations())
	}
	db, err := sqlstore.OpenDB(ctx, conn.Store.SQLDB(), dialect, opts...)
	if err != nil {
		return nil, err
	}
	s.sql, s.grantTables = db, db
	return s, nil
}

// SQL returns this module's SQL store in Hydra's database (for Purge, the audit log's verifier, ...).
func (s *Store) SQL() *sqlstore.Store { return s.sql }

// popTx returns the *sql.Tx of the transaction Hydra's persister carries in ctx, if any.
func (s *Store) popTx(ctx context.Context) *sql.Tx {
	c := s.hydra.Connection(ctx)
	if c == nil || c.TX == nil || c.TX.Tx == nil {
		return nil
	}
	return c.TX.Tx.Tx
}

// BeginTX implements storage.Transactional with Hydra's persister (it joins a transaction ctx already
// carries).
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) { return s.tx.BeginTX(ctx) }

// Commit implements storage.Transactional with Hydra's persister.
func (s *Store) Commit(ctx context.Context) error { return s.tx.Commit(ctx) }

// Rollback implements storage.Transactional with Hydra's persister.
func (s *Store) Rollback(ctx context.Context) error { return s.tx.Rollback(ctx) }

// CreatePendingGrant implements pending.Storage. The grant tables' foreign keys need the client's ID in
// the SQL store's own client table, so a row holding only the ID is added there the first time a client
// starts a grant (Hydra keeps the client itself; such a row is never read).
func (s *Store) CreatePendingGrant(ctx context.Context, g *pending.Grant) error {
	id := g.ClientID()
	if _, ok := s.rows.Load(id); !ok {
		err := s.sql.CreateClient(ctx, &fosite.DefaultClient{ID: id})
		if err != nil && !errors.Is(err, sqlstore.ErrClientExists) {
			return err
		}
		if s.popTx(ctx) == nil { // a row added in a transaction may yet be rolled back
			s.rows.Store(id, true)
		}
	}
	return s.sql.CreatePendingGrant(ctx, g)
}

// ConsumePendingGrant implements pending.Storage. Within a repeatable-read transaction of Hydra's
// (its BeginTX on PostgreSQL), a concurrent redemption that won shows as a serialization failure rather
// than as a changed row: that too is pending.ErrStateChanged.
func (s *Store) ConsumePendingGrant(ctx context.Context, kind pending.Kind, handleSignature string) error {
	err := s.sql.ConsumePendingGrant(ctx, kind, handleSignature)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01") {
		return fmt.Errorf("%w: %v", pending.ErrStateChanged, err)
	}
	return err
}

// GetClient implements fosite.ClientManager: Hydra's client (see Client).
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return hydraClients{s.hydra}.GetClient(ctx, id)
}

// ClientAssertionJWTValid implements fosite.ClientManager with Hydra's persister.
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	return s.hydra.ClientAssertionJWTValid(ctx, jti)
}

// SetClientAssertionJWT implements fosite.ClientManager with Hydra's persister.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	return s.hydra.SetClientAssertionJWT(ctx, jti, exp)
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage with Hydra's persister.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.hydra.CreateAccessTokenSession(ctx, signature, r)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage with Hydra's persister.
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.hydra.GetAccessTokenSession(ctx, signature, session)
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage with Hydra's persister.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.hydra.DeleteAccessTokenSession(ctx, signature)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage with Hydra's persister.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, r fosite.Requester) error {
	return s.hydra.CreateRefreshTokenSession(ctx, signature, accessSignature, r)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage with Hydra's persister.
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.hydra.GetRefreshTokenSession(ctx, signature, session)
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage with Hydra's persister.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.hydra.DeleteRefreshTokenSession(ctx, signature)
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage with Hydra's persister.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, refreshTokenSignature string) error {
	return s.hydra.RotateRefreshToken(ctx, requestID, refreshTokenSignature)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage with Hydra's persister.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.hydra.RevokeAccessToken(ctx, requestID)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage with Hydra's persister.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.hydra.RevokeRefreshToken(ctx, requestID)
}

var _ oauth2.TokenRevocationStorage = (*Store)(nil)

// hydraClients reads clients from Hydra's persister, as Client values; an unknown ID is
// fosite.ErrNotFound.
type hydraClients struct{ p persistence.Persister }

func (h hydraClients) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := h.p.GetConcreteClient(ctx, id)
	if errors.Is(err, sqlcon.ErrNoRows) {
		return nil, fmt.Errorf("%w: client %q", fosite.ErrNotFound, id)
	} else if err != nil {
		return nil, err
	}
	return newClient(c), nil
}
