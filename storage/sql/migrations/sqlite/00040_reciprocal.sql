-- Reciprocal OAuth (draft-ietf-oauth-reciprocal-04): the tokens party B obtained from its partners,
-- one row per (partner client, user). The token is sealed (AES-GCM) by the handler before it gets
-- here. Keep in step with ../postgres.

-- +goose Up
CREATE TABLE reciprocal_tokens (
    client_id  TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    code_hash  TEXT NOT NULL DEFAULT '',
    scope      TEXT NOT NULL DEFAULT '',
    expires_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, subject)
);

-- +goose Down
DROP TABLE reciprocal_tokens;
