// Package sqlstore keeps everything a fosite authorization server stores in one SQL database, SQLite
// or PostgreSQL, so that pending grants, codes and tokens survive a restart and many server instances
// can share one state.
//
// # Opening a store
//
//	store, err := sqlstore.Open(ctx, "/var/lib/authz/grants.db")                 // SQLite file
//	store, err := sqlstore.Open(ctx, "postgres://authz@db.internal/authz")       // PostgreSQL
//	defer store.Close()
//
// SQLite runs through a pure-Go driver (modernc.org/sqlite, no cgo) in WAL mode with foreign keys on,
// a busy timeout, and write transactions that take the write lock when they begin. PostgreSQL runs
// through pgx's database/sql adapter. Open applies the embedded, versioned migrations (goose) unless
// WithoutMigrations is given; Migrate applies them on demand, for a deploy step.
//
// The store may also live in a database another component owns, such as an Ory Hydra server's:
// OpenDB borrows that component's *sql.DB, WithContextTx joins the transactions it carries in its
// contexts (so a grant is consumed in the same transaction as that component's tokens are stored), and
// WithClients reads clients from it. See integration/hydra.
//
// # What it implements
//
//   - fosite: ClientManager (clients and client-assertion JWT IDs), oauth2.CoreStorage and
//     TokenRevocationStorage (authorization codes, access and refresh tokens, RotateRefreshToken),
//     pkce.PKCERequestStorage, openid.OpenIDConnectRequestStorage, PARStorage, the RFC 7523 key
//     storage, the ROPC Authenticate hook (WithPasswordAuthenticator), and storage.Transactional.
//     The semantics are those of fosite's storage.MemoryStore: a used authorization code comes back
//     with fosite.ErrInvalidatedAuthorizeCode, a revoked refresh token with fosite.ErrInactiveToken,
//     and anything missing is fosite.ErrNotFound. It can be handed to compose.ComposeAllEnabled.
//   - this module: pending.Storage and pending.AttemptStorage (handler/pending), audit.Storage, and
//     signin.Storage (browser sign-in sessions).
//   - client administration: CreateClient, UpdateClient, SetClient, DeleteClient (deleting a client
//     deletes everything issued to it), SetJWTBearerKey, DeleteJWTBearerKey.
//
// Requests are stored the way Hydra stores them: request ID, time, client ID, requested and granted
// scopes and audience, the form without credentials, and the session as JSON. Reading one loads the
// client by ID and unmarshals the session into the session value the caller passes. Client secrets
// are stored exactly as given, so give the hash (fosite's Hasher output), never the secret.
//
// GetClient answers from a short-lived in-memory cache (WithClientCache, default one second): a token
// request reads its client twice, and on SQLite those reads were a third of a pending poll. The
// store's own client changes drop the entry at once; another instance's changes are seen within the
// TTL. Unknown client IDs and reads inside a transaction are never cached.
//
// # Atomicity
//
// Every state change of a pending grant is one conditional UPDATE whose row count tells whether it
// happened (ConsumePendingGrant: WHERE state = 'approved'), so of any number of concurrent redemptions,
// from any number of instances, exactly one succeeds. RecordPoll judges and records a poll in one
// UPDATE computed by the database. Attempt counters are one upsert. Within a transaction begun with
// BeginTX (fosite's storage.MaybeBeginTx does this), every method uses the transaction carried by the
// context, so a grant is consumed if and only if its tokens are stored.
//
// Refresh token rotation (RotateRefreshToken) is one conditional UPDATE too (deactivate the presented
// token WHERE it is still active), so of concurrent refreshes with one token exactly one rotates it;
// the others get fosite.ErrInactiveToken, which package handler/refresh answers with invalid_grant.
// On PostgreSQL every change to several tokens of one grant first takes a transaction-scoped advisory
// lock on the grant, so concurrent rotations, reuse detections and revocations do not deadlock.
//
// # Errors
//
// Database failures are returned wrapped, never as success: handlers turn them into server_error. The
// messages may name tables and operations; they are meant for logs, not for clients.
//
// # Housekeeping
//
// Expired rows are not needed for correctness (expiry is checked on read) but accumulate. Purge
// deletes them; RunPurge calls it periodically. Pending grants and authorization codes are kept for a
// retention period after expiry (WithRetention, default 24h) so that a replay is still recognised.
// Purge deletes 500 rows per transaction and pauses between batches, so that live requests are not
// held up by it (on SQLite they take the write lock between batches).
//
// # Keys
//
// Tokens, codes and sealed records are only readable with the keys they were written with. VerifyKeys
// records a fingerprint of the server's keys (NewKeyFingerprint: an HMAC under the token secret and the
// audit key's thumbprint) on the first start and refuses other keys later with ErrKeysMismatch; call it
// before serving.
//
// # Schema notes
//
// Times are stored as Unix nanoseconds (UTC) in integer columns and durations as nanoseconds, so
// that both databases compute poll intervals and windows with the same integer arithmetic. The
// pending_grants table is indexed by (kind, handle), (kind, user code), (kind, login hint),
// (kind, subject, decided_at), request ID, client and expiry. The user-code, login-hint and subject
// indexes are partial: they hold only the rows that have one, so creating a grant (which has at most
// one of them) writes fewer index entries; the queries that use them repeat the index's condition.
//
// # Testing against PostgreSQL
//
// The tests use SQLite in a temporary directory, and PostgreSQL when GRANTS_TEST_POSTGRES_DSN is set
// (each test gets a schema of its own):
//
//	GRANTS_TEST_POSTGRES_DSN=postgres://user:password@127.0.0.1:5432/db?sslmode=disable go test ./storage/sql/
//
// .ci/postgres.sh starts a throw-away PostgreSQL cluster for CI and sets the variable.
package sqlstore
