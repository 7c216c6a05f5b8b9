-- OpenID CIBA Core 1.0 (handler/ciba): what a backchannel authentication request keeps beside its
-- pending grant (pending_grants, kind 'ciba'). Times are Unix nanoseconds. The client_notification_token
-- and the auth_req_id are stored only sealed (AES-GCM under a key derived from the global secret).
-- Keep in step with ../sqlite.

-- +goose Up
CREATE TABLE ciba_requests (
    ref                   TEXT PRIMARY KEY,
    handle_signature      TEXT NOT NULL,
    subject               TEXT NOT NULL DEFAULT '',
    client_id             TEXT NOT NULL,
    mode                  TEXT NOT NULL,
    notification_endpoint TEXT NOT NULL DEFAULT '',
    sealed_token          BYTEA,
    sealed_auth_req_id    BYTEA,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    notified              BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ciba_requests_subject ON ciba_requests (subject, expires_at);
CREATE INDEX ciba_requests_unnotified ON ciba_requests (mode, notified, expires_at);
CREATE INDEX ciba_requests_expires_at ON ciba_requests (expires_at);

-- +goose Down
DROP TABLE ciba_requests;
