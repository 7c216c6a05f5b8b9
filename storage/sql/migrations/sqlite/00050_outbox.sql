-- The durable outbox (package outbox): notifications (CIBA ping and push callbacks, alert e-mails)
-- written in the transaction of the state change that causes them and delivered by workers.
-- Header and body are sealed (AES-256-GCM) before they get here; only the sealed bytes are stored.
-- Times are Unix nanoseconds (UTC). Keep in step with ../postgres.

-- +goose Up
CREATE TABLE outbox_messages (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    sealed          BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    not_before      INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    lease           TEXT,
    lease_until     INTEGER,
    finished_at     INTEGER
);
-- Claims scan pending messages by due time; purges scan finished ones by finish time.
CREATE INDEX outbox_messages_due ON outbox_messages (state, next_attempt_at);
CREATE INDEX outbox_messages_finished_at ON outbox_messages (finished_at);

CREATE TABLE outbox_attempts (
    message_id      TEXT NOT NULL REFERENCES outbox_messages (id) ON DELETE CASCADE,
    number          INTEGER NOT NULL,
    lease           TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    status_code     INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER,
    PRIMARY KEY (message_id, number)
);

-- +goose Down
DROP TABLE outbox_attempts;
DROP TABLE outbox_messages;
