-- The device grant's kiosk and alert features (sqlite): single-use keys (deactivation links, once-only
-- audit records). Times are Unix nanoseconds. Keep in step with ../postgres.

-- +goose Up
CREATE TABLE pending_once (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_once_expires_at ON pending_once (expires_at);

-- +goose Down
DROP TABLE pending_once;
