-- Browser sign-in sessions (package signin): the browser holds a random session ID, the table only its
-- SHA-256 hash, so a copy of the table gives no working cookie and deleting a row signs the browser out
-- on every instance. Times are Unix nanoseconds (UTC). Keep in step with ../sqlite.

-- +goose Up
CREATE TABLE signin_sessions (
    id_hash    TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- Purge deletes by expiry.
CREATE INDEX signin_sessions_expires_at ON signin_sessions (expires_at);

-- +goose Down
DROP TABLE signin_sessions;
