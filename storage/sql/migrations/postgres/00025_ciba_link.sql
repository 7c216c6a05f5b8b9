-- Links of the CIBA e-mail/SMS link channel (handler/ciba/linkchannel). Times are Unix nanoseconds;
-- scopes are a JSON array. The link token itself is never stored, only its HMAC (signature).

-- +goose Up
CREATE TABLE ciba_links (
    signature       TEXT PRIMARY KEY,
    ref             TEXT NOT NULL,
    subject         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    client_name     TEXT NOT NULL DEFAULT '',
    scopes          TEXT NOT NULL DEFAULT '[]',
    binding_message TEXT NOT NULL DEFAULT '',
    locale          TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    outcome         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ciba_links_expires_at ON ciba_links (expires_at);

-- +goose Down
DROP TABLE ciba_links;
