// Package outbox delivers the notifications the grants send (CIBA ping and push callbacks, device
// grant alerts) durably: a message is written to the store in the same transaction as the state
// change that causes it, and a Worker delivers it at least once, with retries.
package outbox
