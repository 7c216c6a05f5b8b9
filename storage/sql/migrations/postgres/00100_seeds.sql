-- What the seed documents still asked for (issue 16): users' enrolled CIBA authentication devices and
-- their CIBA user codes, the short codes of the SMS reply channel, and party A's links with its
-- Reciprocal OAuth partners. Times are Unix nanoseconds (UTC). Keep in step with ../sqlite.

-- +goose Up
-- Enrolled authentication devices (handler/ciba.DeviceStorage): one row per (user, device). At most one
-- of a user's rows is preferred; ciba.Devices keeps it so.
CREATE TABLE ciba_devices (
    subject    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    preferred  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subject, device_id)
);

-- The user_code of CIBA Core §7.1 a user set (handler/ciba.UserCodeStorage): a keyed hash, never the code.
CREATE TABLE ciba_user_codes (
    subject    TEXT PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The reply codes of the SMS channel (handler/ciba/smschannel): signature is an HMAC of the phone
-- number and the code, so the table holds neither.
CREATE TABLE ciba_sms_bindings (
    signature   TEXT PRIMARY KEY,
    ref         TEXT NOT NULL,
    subject     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    client_name TEXT NOT NULL DEFAULT '',
    scopes      TEXT NOT NULL DEFAULT '[]',
    locale      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ciba_sms_bindings_expires_at ON ciba_sms_bindings (expires_at);

-- Party A's link with a partner (handler/reciprocal.LinkStorage): party B's token to party A, sealed
-- (AES-GCM) before it gets here, what party B asked in return and what party A last granted.
CREATE TABLE reciprocal_links (
    client_id  TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    asked      TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    granted    TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, subject)
);

-- +goose Down
DROP TABLE reciprocal_links;
DROP TABLE ciba_sms_bindings;
DROP TABLE ciba_user_codes;
DROP TABLE ciba_devices;
