// Package metrics keeps Prometheus metrics of the grants (an observe.Observer), with the official
// client library. Register them in a registry of your own and serve it (promhttp) on an operations
// listener:
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg, metrics.Options{})
//	store, err := sqlstore.Open(ctx, dsn, sqlstore.WithObserver(m))
//	reg.MustRegister(metrics.StoreGauges(metrics.StoreOptions{Grants: store, Outbox: store}))
//	// pass m as the grants' Options.Observer, audit.Options.Observer, outbox.Worker.Observer,
//	// clientauth.Limiter.Observer, and to an observe.Handler in front of your router.
//
// # Metrics
//
// Every name starts with the namespace (Options.Namespace, "grants" by default):
//
//	grants_requests_total{endpoint,grant,outcome}         counter: requests of the OAuth endpoints
//	grants_grant_steps_total{grant,step,outcome}          counter: steps of pending grants
//	grants_grant_step_duration_seconds{grant,step}        histogram: their latency, store calls included
//	grants_polls_total{grant,answer}                      counter: token requests polling a grant (ok is the grant's
//	                                                      answer: a DPoP check after it may still refuse;
//	                                                      requests_total has what the client got)
//	grants_decisions_total{grant,decision}                counter: approvals and denials
//	grants_limiter_refusals_total{limiter,counter}        counter: attempts a limiter refused
//	grants_outbox_attempts_total{kind,outcome}            counter: outbox delivery attempts
//	grants_outbox_attempt_duration_seconds{kind}          histogram: their latency
//	grants_audit_batch_events                             histogram: events sealed by one signature
//	grants_audit_batch_duration_seconds                   histogram: signing and storing one batch
//	grants_audit_batch_failures_total                     counter: batches that could not be stored
//	grants_store_call_duration_seconds{system,operation}  histogram: database calls of the store
//	grants_store_call_errors_total{system,operation}      counter: those that failed
//	grants_http_requests_total{route,method,code}         counter: HTTP requests
//	grants_http_request_duration_seconds{route,method}    histogram: their latency
//
// and, read from the store at each scrape (StoreGauges; the same on every instance sharing a store, so
// aggregate them with max, not sum):
//
//	grants_pending_grants{grant,state}                    gauge: live grants, state pending or approved
//	grants_outbox_backlog_messages                        gauge: messages waiting for delivery
//	grants_outbox_oldest_message_age_seconds              gauge: age of the oldest of them
//	grants_store_scrape_error                             gauge: 1 when the store could not be read
//
// # Labels
//
// Every label has few values, all set by code, never by a request: grant is a pending.Kind
// ("device_code", "ciba", "otp"); step one of observe's steps; outcome and answer "ok", "approved",
// "denied", an OAuth error code from a fixed list (observe.Outcome) or "other_error"; endpoint "token",
// "device_authorization", "backchannel_authentication" or "otp_challenge", and grant there also a
// short name of a known grant type, "other" or "none" (observe.GrantTypeLabel); decision
// "approved" or "denied"; limiter a limiter's name ("device-user-code", "ciba-user-code",
// "client-auth", "registration-token") and counter "address", "global", "account", "global-signed-in" or "client"; kind an
// outbox message kind ("ciba.ping", "ciba.push", "device.alert", …) and outcome "delivered", "retry"
// or "failed"; system "sqlite" or "postgresql" and operation a statement's verb and table ("update
// pending_grants", "commit"); route the router's pattern ("unmatched" when none matched), method one
// of the standard methods or "other", code the status. No label carries a user, a client ID, a code,
// a token or a secret.
//
// Latency buckets run from 0.1 ms to 10 s (16 exponential buckets); audit batch sizes from 1 to 256
// (powers of two). Store gauges are read with a 2-second timeout (StoreOptions.ScrapeTimeout).
package metrics
