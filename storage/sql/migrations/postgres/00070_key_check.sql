-- The key check (Store.VerifyKeys): what identifies the keys the data was written with, recorded on
-- the first start, so that a server started with other keys refuses to start instead of failing on
-- every token and audit record later. Only a MAC and a public-key thumbprint, never a key.
-- Keep in step with ../sqlite.

-- +goose Up
CREATE TABLE grants_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    secret_mac TEXT NOT NULL,
    audit_key  TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE grants_key_check;
