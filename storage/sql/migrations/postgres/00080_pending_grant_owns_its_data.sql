-- A pending grant holds everything its grant needs, so that every lookup is one read:
--   * the OTP grant's "code sent at" and "resend interval" get columns of their own (they were kept in
--     the polling columns, although the OTP grant does not poll);
--   * a CIBA request's user, callback (endpoint, sealed client_notification_token, sealed auth_req_id,
--     whether the client is told of expiry, whether the final callback was queued) move from
--     ciba_requests onto its pending grant, and its reference becomes the grant's request ID (links
--     already sent are rewritten; a moved request keeps its old reference in extra.ciba_ref, which its
--     sealed values are bound to).
-- Times are Unix nanoseconds. Keep in step with ../sqlite.

-- +goose Up
ALTER TABLE pending_grants ADD COLUMN code_sent_at BIGINT;
ALTER TABLE pending_grants ADD COLUMN resend_interval_ns BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pending_grants ADD COLUMN callback_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_grants ADD COLUMN callback_token BYTEA;
ALTER TABLE pending_grants ADD COLUMN callback_handle BYTEA;
ALTER TABLE pending_grants ADD COLUMN callback_on_expiry BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pending_grants ADD COLUMN callback_notified BIGINT NOT NULL DEFAULT 0;

UPDATE pending_grants SET code_sent_at = last_polled_at, resend_interval_ns = interval_ns, last_polled_at = NULL, interval_ns = 0
WHERE kind = 'otp';

UPDATE pending_grants SET
    subject = CASE WHEN pending_grants.subject = '' THEN r.subject ELSE pending_grants.subject END,
    callback_endpoint = r.notification_endpoint,
    callback_token = r.sealed_token,
    callback_handle = r.sealed_auth_req_id,
    callback_on_expiry = CASE WHEN r.mode = 'push' THEN 1 ELSE 0 END,
    callback_notified = r.notified
FROM ciba_requests r
WHERE pending_grants.kind = 'ciba' AND pending_grants.handle_signature = r.handle_signature;

UPDATE ciba_links SET ref = g.request_id
FROM ciba_requests r, pending_grants g
WHERE ciba_links.ref = r.ref AND g.kind = 'ciba' AND g.handle_signature = r.handle_signature;

DROP TABLE ciba_requests;

-- ListUnnotifiedExpired (CIBA push requests that expired unanswered) and ListPendingGrantsBySubject
-- (pending_grants_subject) read partial indexes.
CREATE INDEX pending_grants_callback ON pending_grants (kind, expires_at) WHERE callback_on_expiry = 1 AND callback_notified = 0;

-- +goose Down
DROP INDEX pending_grants_callback;
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
UPDATE pending_grants SET last_polled_at = code_sent_at, interval_ns = resend_interval_ns WHERE kind = 'otp';
ALTER TABLE pending_grants DROP COLUMN callback_notified;
ALTER TABLE pending_grants DROP COLUMN callback_on_expiry;
ALTER TABLE pending_grants DROP COLUMN callback_handle;
ALTER TABLE pending_grants DROP COLUMN callback_token;
ALTER TABLE pending_grants DROP COLUMN callback_endpoint;
ALTER TABLE pending_grants DROP COLUMN resend_interval_ns;
ALTER TABLE pending_grants DROP COLUMN code_sent_at;
