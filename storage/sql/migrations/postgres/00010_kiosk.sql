-- The device grant's kiosk and alert features (postgres): single-use keys (deactivation links, once-only
-- audit records). Times are Unix nanoseconds. Keep in step with ../sqlite.

-- +goose Up
CREATE TABLE pending_once (
    key        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_once_expires_at ON pending_once (expires_at);

-- +goose Down
DROP TABLE pending_once;
