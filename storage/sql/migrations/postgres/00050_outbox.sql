-- The durable outbox (package outbox): notifications (CIBA ping and push callbacks, alert e-mails)
-- written in the transaction of the state change that causes them and delivered by workers.
-- Header and body are sealed (AES-256-GCM) before they get here; only the sealed bytes are stored.
-- Times are Unix nanoseconds (UTC). Keep in step with ../sqlite.

-- +goose Up
CREATE TABLE outbox_messages (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    not_before      BIGINT NOT NULL,
    max_attempts    BIGINT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    lease           TEXT,
    lease_until     BIGINT,
    finished_at     BIGINT
);
-- Claims scan pending messages by due time; purges scan finished ones by finish time.
CREATE INDEX outbox_messages_due ON outbox_messages (state, next_attempt_at);
CREATE INDEX outbox_messages_finished_at ON outbox_messages (finished_at);

CREATE TABLE outbox_attempts (
    message_id      TEXT NOT NULL REFERENCES outbox_messages (id) ON DELETE CASCADE,
    number          BIGINT NOT NULL,
    lease           TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    status_code     BIGINT NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    next_attempt_at BIGINT,
    PRIMARY KEY (message_id, number)
);

-- +goose Down
DROP TABLE outbox_attempts;
DROP TABLE outbox_messages;
