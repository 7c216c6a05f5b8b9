// Package tracing makes OpenTelemetry spans of the grants (an observe.Observer) through the trace API
// only: give New the TracerProvider of the SDK you configure (an OTLP exporter, say); nil traces
// nothing, which is the default.
//
// Spans: a server span per HTTP request ("POST /oauth2/token", with http.route, the status and
// http_request_id; at the token, device authorization, backchannel authentication and OTP
// challenge endpoints also grants.endpoint, grants.grant and grants.outcome, so a refused request says
// why); beneath it fosite's own spans (fosite v0.49.0 takes its tracer from the span in
// the request's context); a span per grant step ("device_code poll", with grants.outcome); beneath
// that a client span per database call ("update pending_grants", with db.system.name,
// db.operation.name and db.collection.name); a span per outbox delivery attempt. A limiter's refusal is
// an event on the current span. A step whose outcome is server_error, and a failed database call, mark
// their spans as errors; the OAuth answers a client gets (authorization_pending, invalid_grant, …) do
// not. No span carries a user, a client ID, a code, a token, a secret, a statement's arguments or a
// database error's text.
//
// Trace context in incoming headers is not trusted: on a public authorization server a client could
// otherwise join or force the sampling of traces. Each request starts a trace of its own.
package tracing
