-- The initial schema (PostgreSQL). Times are Unix nanoseconds (UTC) in BIGINT columns, durations are
-- nanoseconds, lists are JSON arrays, forms are URL-encoded. Keep in step with ../sqlite.

-- +goose Up
CREATE TABLE oauth2_clients (
    id                              TEXT PRIMARY KEY,
    secret_hash                     TEXT NOT NULL DEFAULT '',
    rotated_secret_hashes           TEXT NOT NULL DEFAULT '[]',
    redirect_uris                   TEXT NOT NULL DEFAULT '[]',
    grant_types                     TEXT NOT NULL DEFAULT '[]',
    response_types                  TEXT NOT NULL DEFAULT '[]',
    scopes                          TEXT NOT NULL DEFAULT '[]',
    audience                        TEXT NOT NULL DEFAULT '[]',
    public                          BOOLEAN NOT NULL DEFAULT FALSE,
    token_endpoint_auth_method      TEXT NOT NULL DEFAULT '',
    token_endpoint_auth_signing_alg TEXT NOT NULL DEFAULT '',
    request_object_signing_alg      TEXT NOT NULL DEFAULT '',
    request_uris                    TEXT NOT NULL DEFAULT '[]',
    jwks                            TEXT,
    jwks_uri                        TEXT NOT NULL DEFAULT '',
    token_lifespans                 TEXT,
    metadata                        JSONB NOT NULL DEFAULT '{}',
    created_at                      BIGINT NOT NULL,
    updated_at                      BIGINT NOT NULL
);

-- One table per kind of fosite request; all share the request columns.
CREATE TABLE oauth2_authorize_codes (
    signature          TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL,
    requested_at       BIGINT NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes   TEXT NOT NULL,
    granted_scopes     TEXT NOT NULL,
    requested_audience TEXT NOT NULL,
    granted_audience   TEXT NOT NULL,
    form               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    session_data       TEXT NOT NULL,
    expires_at         BIGINT,
    active             BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX oauth2_authorize_codes_request_id ON oauth2_authorize_codes (request_id);
CREATE INDEX oauth2_authorize_codes_client_id ON oauth2_authorize_codes (client_id);
CREATE INDEX oauth2_authorize_codes_expires_at ON oauth2_authorize_codes (expires_at);

CREATE TABLE oauth2_access_tokens (
    signature          TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL,
    requested_at       BIGINT NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes   TEXT NOT NULL,
    granted_scopes     TEXT NOT NULL,
    requested_audience TEXT NOT NULL,
    granted_audience   TEXT NOT NULL,
    form               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    session_data       TEXT NOT NULL,
    expires_at         BIGINT
);
CREATE INDEX oauth2_access_tokens_request_id ON oauth2_access_tokens (request_id);
CREATE INDEX oauth2_access_tokens_client_id ON oauth2_access_tokens (client_id);
CREATE INDEX oauth2_access_tokens_expires_at ON oauth2_access_tokens (expires_at);

CREATE TABLE oauth2_refresh_tokens (
    signature              TEXT PRIMARY KEY,
    request_id             TEXT NOT NULL,
    requested_at           BIGINT NOT NULL,
    client_id              TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes       TEXT NOT NULL,
    granted_scopes         TEXT NOT NULL,
    requested_audience     TEXT NOT NULL,
    granted_audience       TEXT NOT NULL,
    form                   TEXT NOT NULL,
    subject                TEXT NOT NULL,
    session_data           TEXT NOT NULL,
    expires_at             BIGINT,
    active                 BOOLEAN NOT NULL DEFAULT TRUE,
    access_token_signature TEXT NOT NULL DEFAULT ''
);
CREATE INDEX oauth2_refresh_tokens_request_id ON oauth2_refresh_tokens (request_id);
CREATE INDEX oauth2_refresh_tokens_client_id ON oauth2_refresh_tokens (client_id);
CREATE INDEX oauth2_refresh_tokens_expires_at ON oauth2_refresh_tokens (expires_at);

CREATE TABLE oauth2_pkce (
    signature          TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL,
    requested_at       BIGINT NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes   TEXT NOT NULL,
    granted_scopes     TEXT NOT NULL,
    requested_audience TEXT NOT NULL,
    granted_audience   TEXT NOT NULL,
    form               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    session_data       TEXT NOT NULL,
    expires_at         BIGINT
);
CREATE INDEX oauth2_pkce_client_id ON oauth2_pkce (client_id);
CREATE INDEX oauth2_pkce_expires_at ON oauth2_pkce (expires_at);

CREATE TABLE oauth2_oidc_sessions (
    signature          TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL,
    requested_at       BIGINT NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes   TEXT NOT NULL,
    granted_scopes     TEXT NOT NULL,
    requested_audience TEXT NOT NULL,
    granted_audience   TEXT NOT NULL,
    form               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    session_data       TEXT NOT NULL,
    expires_at         BIGINT
);
CREATE INDEX oauth2_oidc_sessions_client_id ON oauth2_oidc_sessions (client_id);
CREATE INDEX oauth2_oidc_sessions_expires_at ON oauth2_oidc_sessions (expires_at);

-- Pushed authorization requests (RFC 9126), keyed by request_uri; authorize holds the authorization
-- request's own fields (response types, redirect URI, state, response mode) as JSON.
CREATE TABLE oauth2_par_sessions (
    signature          TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL,
    requested_at       BIGINT NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes   TEXT NOT NULL,
    granted_scopes     TEXT NOT NULL,
    requested_audience TEXT NOT NULL,
    granted_audience   TEXT NOT NULL,
    form               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    session_data       TEXT NOT NULL,
    expires_at         BIGINT,
    authorize          TEXT NOT NULL
);
CREATE INDEX oauth2_par_sessions_client_id ON oauth2_par_sessions (client_id);
CREATE INDEX oauth2_par_sessions_expires_at ON oauth2_par_sessions (expires_at);

-- JWT IDs seen in client assertions (RFC 7523 §3) and jwt-bearer grants, until they expire.
CREATE TABLE oauth2_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth2_jtis_expires_at ON oauth2_jtis (expires_at);

-- Keys trusted for the RFC 7523 jwt-bearer authorization grant.
CREATE TABLE oauth2_jwt_bearer_keys (
    issuer  TEXT NOT NULL,
    subject TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    jwk     TEXT NOT NULL,
    scopes  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (issuer, subject, key_id)
);

-- Pending grants of this module (device, CIBA, OTP, reciprocal); see handler/pending.
CREATE TABLE pending_grants (
    kind                TEXT NOT NULL,
    handle_signature    TEXT NOT NULL,
    user_code_signature TEXT,
    request_id          TEXT NOT NULL,
    requested_at        BIGINT NOT NULL,
    client_id           TEXT NOT NULL REFERENCES oauth2_clients (id) ON DELETE CASCADE,
    requested_scopes    TEXT NOT NULL,
    granted_scopes      TEXT NOT NULL,
    requested_audience  TEXT NOT NULL,
    granted_audience    TEXT NOT NULL,
    form                TEXT NOT NULL,
    session_data        TEXT NOT NULL,
    state               TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    interval_ns         BIGINT NOT NULL,
    last_polled_at      BIGINT,
    last_poll_slow_down BOOLEAN NOT NULL DEFAULT FALSE,
    subject             TEXT NOT NULL DEFAULT '',
    actor               TEXT NOT NULL DEFAULT '',
    decided_at          BIGINT,
    consumed_at         BIGINT,
    login_hint          TEXT NOT NULL DEFAULT '',
    device_remote_addr  TEXT NOT NULL DEFAULT '',
    device_user_agent   TEXT NOT NULL DEFAULT '',
    extra               JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, handle_signature)
);
-- A user code belongs to at most one grant of a kind; an expired holder gives it up (its column is
-- cleared) when a new grant claims it.
CREATE UNIQUE INDEX pending_grants_user_code ON pending_grants (kind, user_code_signature);
CREATE INDEX pending_grants_login_hint ON pending_grants (kind, login_hint);
CREATE INDEX pending_grants_subject ON pending_grants (kind, subject, decided_at);
CREATE INDEX pending_grants_request_id ON pending_grants (request_id);
CREATE INDEX pending_grants_client_id ON pending_grants (client_id);
CREATE INDEX pending_grants_expires_at ON pending_grants (expires_at);

-- Failed-attempt counters (fixed windows) shared by all server instances.
CREATE TABLE pending_attempts (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
CREATE INDEX pending_attempts_window_end ON pending_attempts (window_end);

-- The tamper-evident audit chain (package audit).
CREATE TABLE audit_records (
    seq   BIGINT PRIMARY KEY,
    token TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_records CASCADE;
DROP TABLE pending_attempts CASCADE;
DROP TABLE pending_grants CASCADE;
DROP TABLE oauth2_jwt_bearer_keys CASCADE;
DROP TABLE oauth2_jtis CASCADE;
DROP TABLE oauth2_par_sessions CASCADE;
DROP TABLE oauth2_oidc_sessions CASCADE;
DROP TABLE oauth2_pkce CASCADE;
DROP TABLE oauth2_refresh_tokens CASCADE;
DROP TABLE oauth2_access_tokens CASCADE;
DROP TABLE oauth2_authorize_codes CASCADE;
DROP TABLE oauth2_clients CASCADE;
