// Package observe is what this module tells its operators: small hooks the grants, the limiters, the
// outbox, the audit log, the stores and an HTTP handler call, and the request ID that ties a request's
// log lines, trace and audit events together.
//
// # Hooks
//
// Observer is the union of one-method interfaces, each called from few places:
//
//   - Grants: every step of a pending grant (start, lookup, decide, poll, load, redeem; see
//     handler/pending.Lifecycle), with its outcome: "ok", "approved", "denied", or the OAuth error
//     code the step answered (Outcome). Set it with the grants' Options.Observer.
//   - Requests: each request of the token endpoint (by grant type, GrantTypeLabel), the device
//     authorization, backchannel authentication and OTP challenge endpoints, with its outcome,
//     including those refused before a grant's steps run (client authentication, a DPoP proof).
//   - Limits: each refusal of pending.Limiter (user-code guessing, RFC 8628 §5.1) and
//     clientauth.Limiter (client authentication), with the limiter and the counter that was full.
//   - Outbox: each delivery attempt of outbox.Worker (Worker.Observer).
//   - Audit: each batch audit.Log appends (audit.Options.Observer).
//   - Store: each database call of storage/sql (sqlstore.WithObserver).
//   - HTTP: each request a Handler serves.
//
// Two implementations ship: observe/metrics (Prometheus) and observe/tracing (OpenTelemetry); Multi
// tells several. The hooks never carry a user, a client ID, a code, a token or a secret: only grant
// kinds, steps, outcomes from a fixed set, limiter names, message kinds, statement names, route
// patterns and status codes.
//
// GrantCounter and BacklogCounter are what a store answers for gauges read at scrape time: the live
// grants per kind and state, and the outbox backlog (storage/sql and storage/memory implement both).
//
// # Requests
//
// Handler wraps a server's router: it gives each request an ID (a valid incoming X-Request-Id when
// TrustRequestID is set, else 128 random bits), returns it in X-Request-Id, and puts it into the
// context (RequestID), from where LogHandler adds it to log lines, observe/tracing to spans and
// audit.Log to events, each as "http_request_id".
//
// # Health
//
// Health serves /healthz (the process answers) and /readyz (every Check holds: for storage/sql,
// Store.CheckReady, which fails when the database does not answer or lacks a migration). Serve them,
// and the metrics, on a listener of their own, not the public one.
package observe
