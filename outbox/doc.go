// Package outbox delivers the notifications the grants send — CIBA ping and push callbacks
// (OpenID CIBA Core §10.2, §10.3), the alert e-mails and text messages of the device grant, security
// events pushed to resource servers (RFC 8935) — so that none is lost and none is sent for a change
// that did not happen.
//
// # Why an outbox
//
// A CIBA approval must reach the client: in ping mode the client waits for the callback before it
// polls, in push mode the callback carries the tokens. If the server sent the callback directly
// after committing the approval, a crash between the two would lose it; if it sent it before
// committing, a failed commit would announce an approval that never happened. And with many
// stateless instances behind a load balancer, the instance that approved may be gone by the time
// the client's endpoint answers.
//
// So every notification is first written to an outbox table in the store, in the same
// transaction as the state change that causes it, and a Worker (on any instance) delivers it
// afterwards, retrying until it is accepted or fails for good.
//
// # The transaction rule
//
// Enqueue with the context of the state change's transaction:
//
//	ctx, err := storage.MaybeBeginTx(ctx, store)         // fosite's helper
//	// ... record the approval with ctx ...
//	err = queue.Enqueue(ctx, outbox.WebhookMessage(
//		"ciba.ping:"+authReqID,                           // ID: the idempotency key
//		outbox.KindCIBAPing, client.NotificationEndpoint,
//		clientNotificationToken, body))
//	// ... commit (or roll back: then no message exists) ...
//	worker.Kick()                                         // deliver now rather than at the next poll
//
// storage/sql joins the transaction the context carries; storage/memory has no transactions and
// stores at once. A second Enqueue with the same ID fails with ErrDuplicate, so derive the ID
// from the event and a retried request cannot queue the message twice.
//
// # Secrets at rest
//
// A Bearer client_notification_token has to be sent later, so it cannot be stored as a hash.
// The Queue seals Header and Body with AES-256-GCM under a key derived (HKDF-SHA256) from
// fosite's global secret, before the store sees them; the store keeps ID, Kind, Target, times
// and delivery state in the clear and the rest as Record.Sealed. The sealed bytes are bound to
// the message's ID, Kind and Target, so someone who can write to the database cannot point a
// token at another URL. NewSealer takes the rotated secrets too, so messages queued before a
// rotation are still delivered. Notification e-mails (NotifyMessage) keep even the recipient in
// the sealed body; their Target is only "notify:email".
//
// # Delivery
//
// A Worker claims due messages with a lease (Storage.ClaimOutbox): for the lease's duration no
// other worker, in this process or another, sees them. It delivers each with its Deliverer
// (usually a Router: Webhook for https targets, Notify for "notify:" targets), records the
// attempt, and moves the message on:
//
//   - accepted: delivered, never sent again;
//   - a permanent failure (errors.Is(err, ErrPermanent)): failed, never retried;
//   - anything else: retried after an exponential Backoff with jitter (or the target's
//     Retry-After, up to an hour), until MaxAttempts (default 8) attempts were made.
//
// Delivery is at least once: a worker that dies after the target accepted a message but
// before it recorded that leaves the message pending, and after the lease expires another
// worker sends it again. Receivers deduplicate; a CIBA client does so by auth_req_id. An
// attempt whose worker died counts towards MaxAttempts, so a message that crashes workers
// cannot crash them forever.
//
// Run the worker next to the server:
//
//	worker := &outbox.Worker{
//		Storage: store, Sealer: sealer, Logger: logger,
//		Deliverer: outbox.Router{ByScheme: map[string]outbox.Deliverer{
//			"https":             outbox.NewWebhook(outbox.WebhookConfig{}),
//			outbox.NotifyScheme: outbox.Notify{Sender: mailer},
//		}},
//	}
//	go worker.Run(ctx)
//
// DrainOnce delivers what is due once and returns, for tests and one-shot commands. Run also
// purges delivered and failed messages older than Worker.Retention (7 days by default).
//
// # Webhooks and SSRF
//
// A callback URL is chosen by the client, so a Webhook must not become a way into the
// server's network. The rules are those of package outbound, whose client every Webhook uses.
// ValidateTarget checks a URL when a client registers it; the Webhook checks
// it again and, more importantly, checks every address the host name resolves to, at dial
// time: loopback (unless WebhookConfig.AllowLoopback, for development), private, link-local
// (cloud metadata services), multicast, unspecified and reserved addresses are refused before
// any connection is made, and a name with any forbidden address is not dialled at all, so DNS
// rebinding does not help. Only https is used, except http to loopback in development. No
// proxy from the environment is used, redirects are never followed (a 3xx fails for good),
// every attempt is bounded by WebhookConfig.Timeout, and at most 64 KiB of an answer are read
// and discarded.
//
// The answer decides: any 2xx is success (CIBA clients answer 204; a 200 with a body is
// fine), 408, 429 and 5xx are retried, and 3xx and every other 4xx fail for good — after a
// 401 or 403 the token is wrong, and the CIBA conformance suite checks that the server does
// not retry. Network errors are retried; a refused address is not.
//
// Security Event Tokens pushed to receivers (RFC 8935; package secevent queues them with
// SecurityEventMessage) go through the same Webhook, with that RFC's answers: 202 Accepted is the
// only success, a 400 is the receiver's refusal ({"err": "invalid_key", ...}, kept in the attempt's
// error) and is not retried, and the rest is judged as above.
//
// # What is logged
//
// One Info line per attempt: message ID, kind, the target's scheme and host (no path or
// query), attempt number and maximum, outcome, HTTP status, a short error and the next
// attempt time. Headers and bodies are never logged, stored in attempts or put in errors;
// ListOutboxAttempts returns the same secret-free record.
package outbox
