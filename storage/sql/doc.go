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
//   - this module: pending.Storage, pending.AttemptStorage and pending.PollStorage (handler/pending),
//     audit.Storage, and signin.Storage (browser sign-in sessions).
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
// UPDATE computed by the database; PollPendingGrant reads the polled grant and records the poll in
// the same statement (on PostgreSQL one statement whatever the grant's state, with a data-modifying
// WITH; on SQLite a grant that is not pending takes a second statement to read). Attempt counters are
// one upsert. Within a transaction begun with
// BeginTX (fosite's storage.MaybeBeginTx does this), every method uses the transaction carried by the
// context, so a grant is consumed if and only if its tokens are stored.
//
// Refresh token rotation (RotateRefreshToken) is one conditional UPDATE too (deactivate the presented
// token WHERE it is still active), so of concurrent refreshes with one token exactly one rotates it;
// the others get fosite.ErrInactiveToken, which package handler/refresh answers with invalid_grant.
// On PostgreSQL every change to several tokens of one grant first takes a transaction-scoped advisory
// lock on the grant, so concurrent rotations, reuse detections and revocations do not deadlock.
//
// # SQLite: group commit
//
// SQLite has one writer at a time, and a commit — the transaction's pages appended to the write-ahead
// log — is most of what a small write costs. The store therefore runs every write on one connection
// of its own and commits concurrent writes together: a write transaction (BeginTX, or a single
// statement outside one) waits for the writer's turn, runs its statements inside the batch's open
// transaction (BEGIN IMMEDIATE; from the second transaction of a batch on, in a savepoint, so that it
// can roll back alone), and when it commits, hands the turn to the next waiting transaction; the last
// one in line commits the batch for all. Commit returns only once the batch's COMMIT has: nothing
// acknowledged is lost when the process is killed (WAL with synchronous=NORMAL: the log is in the
// operating system's hands at COMMIT; a power failure may lose the last commits, as without batching).
// A batch holds at most WithGroupCommit transactions (default DefaultGroupCommit, 64); a transaction
// alone commits alone, without waiting. Reads outside a transaction run on the other pooled
// connections and see only committed batches.
//
// A transaction of a batch sees the uncommitted writes of the transactions before it in the same
// batch; if the batch's COMMIT fails, they all fail together, so none is acknowledged on a write that
// did not land. A statement failure that makes SQLite roll back the whole transaction (a full disk, an
// I/O error) fails every transaction already in the batch. Cancelling a request's context does not
// interrupt its statements (an interrupted statement rolls back the whole batch): the transaction is
// rolled back when its context ends before it commits. Transactions joined by WithContextTx and stores
// made by OpenDB write as before, each on a pooled connection under SQLite's own lock.
//
// The writer does not checkpoint after its commits (SQLite's default copies the log into the database
// and syncs both every 1000 pages, while every writer waits). A goroutine runs PASSIVE checkpoints on a
// pooled connection every 32 batch commits, while writes go on; since such checkpoints never catch up
// with a steady stream of commits, the writer checkpoints between two batches once the log passes 8192
// pages, so that the log starts over. Statement journals are kept in memory (temp_store=MEMORY; they
// only undo a statement and have no part in durability). Statements with a RETURNING clause are
// avoided on the writer's hot paths: SQLite builds a temporary table for the returned rows each time,
// so a counter's upsert and a poll's UPDATE are followed by a SELECT of the row in the same
// transaction instead, which costs a fraction of it.
//
// # PostgreSQL: pipelined transactions
//
// A transaction begun with BeginTX sends nothing at first. BEGIN and the statements whose only answer
// is success — storing a token or code, taking a grant's advisory lock — are queued and go out in one
// pipelined batch (pgx's batch: one round trip) with the next statement whose answer the caller needs,
// or with COMMIT. A redemption (consume the grant, store the tokens, commit) takes one round trip
// instead of five — the consume is queued too, as a statement that fails when it consumed nothing, so
// that a redemption that lost the race learns it from Commit (ConsumePendingGrant); rolling back a transaction that sent nothing takes none. A queued statement's
// failure is reported by the call that sends it — the next statement, or Commit — and the transaction
// is then rolled back as always. The pool keeps its connections (WithMaxOpenConns, default 25) open
// when idle, so that a burst of requests does not start and stop backends. A store made by OpenDB
// pipelines its transactions when the pool it borrows is pgx's database/sql driver (the pipeline speaks
// pgx's protocol on the pool's connections), and otherwise uses database/sql transactions; a
// transaction joined by WithContextTx is its owner's and is never pipelined.
//
// Two kinds of bookkeeping commit asynchronously on PostgreSQL (synchronous_commit off, local to the
// statement's own transaction, set within the statement so that it stays one round trip): a poll's
// time and interval, and the attempt counters of the rate limits, when they run outside a caller's
// transaction. PostgreSQL then answers without waiting for its write-ahead log to reach the disk — the
// flush is most of what such a write costs it. A crash of PostgreSQL can forget the last fraction of a
// second of them (a client polls once more without slow_down; a counter misses a few attempts); a later
// synchronous commit on the same server makes them durable with it. Grants, decisions, redemptions,
// tokens and everything in a caller's transaction keep the server's own synchronous_commit.
//
// # Counting
//
// Stats returns what the store has asked of its database so far: statements, transaction-control
// statements, commits and (PostgreSQL) round trips. The load benchmark (go run ./bench) divides them by
// the requests of each scenario.
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
