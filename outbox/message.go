package outbox

import (
	"errors"
	"time"
)

// State is where a message is in its delivery.
type State string

const (
	// StatePending messages wait for (another) delivery attempt.
	StatePending State = "pending"
	// StateDelivered messages were accepted by their target. Final.
	StateDelivered State = "delivered"
	// StateFailed messages will not be tried again: a permanent refusal, or MaxAttempts reached. Final.
	StateFailed State = "failed"
)

// Well-known message kinds. A Kind is free text; Router dispatches on it.
const (
	// KindCIBAPing is a CIBA ping callback (OpenID CIBA Core §10.2): a POST of {"auth_req_id": ...}
	// with the client_notification_token as Bearer credential.
	KindCIBAPing = "ciba.ping"
	// KindCIBAPush is a CIBA push token delivery (OpenID CIBA Core §10.3).
	KindCIBAPush = "ciba.push"
	// KindDeviceAlert is an alert e-mail or text message sent after a device grant was approved.
	KindDeviceAlert = "device.alert"
)

// DefaultMaxAttempts is the number of delivery attempts of a message whose MaxAttempts is zero.
const DefaultMaxAttempts = 8

// Message is one outbound notification, as its producer writes it and its Deliverer reads it.
//
// Header and Body are secret (a CIBA Bearer client_notification_token, an access token pushed to a
// client, a sign-in link in an e-mail): they are sealed before they reach the store (see Sealer) and
// never logged. ID, Kind and Target are stored in the clear and may be logged; put no secret in them.
type Message struct {
	// ID identifies the message and is its idempotency key: enqueuing a second message with the same
	// ID fails with ErrDuplicate. Derive it from the event ("ciba.ping:" + request ID), so a retried
	// producer cannot send twice.
	ID string
	// Kind says what the message is (KindCIBAPing, ...); Router dispatches on it.
	Kind string
	// Target is where it goes: an https URL for webhooks, or a notify destination such as
	// "notify:email" (the address itself travels in the sealed Body).
	Target string
	// Header holds request headers for webhooks (such as Authorization). Sealed at rest.
	Header map[string]string
	// Body is the payload. Sealed at rest.
	Body []byte
	// CreatedAt is when the message was enqueued; zero means now.
	CreatedAt time.Time
	// NotBefore delays the first attempt; zero means CreatedAt.
	NotBefore time.Time
	// MaxAttempts bounds delivery attempts; zero means DefaultMaxAttempts.
	MaxAttempts int

	// Delivery state, kept by the store. Ignored by Enqueue.

	// State is pending, delivered or failed.
	State State
	// Attempts counts the attempts begun so far, including the current one while a worker holds it.
	Attempts int
	// NextAttemptAt is when the message may next be claimed.
	NextAttemptAt time.Time
	// LastError is the short, secret-free reason of the last failed attempt.
	LastError string
	// Lease identifies the claim that holds the message (see Storage.ClaimOutbox); empty when none.
	Lease string
	// LeaseUntil is when that claim expires.
	LeaseUntil time.Time
}

// Record is a message as the store keeps it: Message without Header and Body, which are replaced by
// Sealed, their encryption under the Sealer's key. Stores only ever see Records.
type Record struct {
	// ID, Kind and Target are the message's, in the clear.
	ID     string
	Kind   string
	Target string
	// Sealed is the AES-256-GCM encryption of Header and Body (see Sealer).
	Sealed []byte
	// CreatedAt, NotBefore and MaxAttempts are the message's.
	CreatedAt   time.Time
	NotBefore   time.Time
	MaxAttempts int
	// State, Attempts, NextAttemptAt, LastError, Lease and LeaseUntil are the delivery state (see
	// Message).
	State         State
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	Lease         string
	LeaseUntil    time.Time
	// FinishedAt is when the message reached StateDelivered or StateFailed; zero while pending.
	FinishedAt time.Time
}

// Outcome is the result of one delivery attempt.
type Outcome string

const (
	// OutcomeDelivered: the target accepted the message; it becomes StateDelivered.
	OutcomeDelivered Outcome = "delivered"
	// OutcomeRetry: the attempt failed but may succeed later; the message stays pending until
	// Attempt.NextAttemptAt.
	OutcomeRetry Outcome = "retry"
	// OutcomeFailed: the attempt failed for good (or it was the last allowed); it becomes StateFailed.
	OutcomeFailed Outcome = "failed"
)

// Attempt records one delivery attempt. It holds no secret: Error is a short reason such as
// "HTTP 503" or "dial: connection refused".
type Attempt struct {
	// MessageID is the message attempted (filled by ListOutboxAttempts).
	MessageID string
	// Number is the attempt's number, 1 for the first (the message's Attempts when it was claimed).
	Number int
	// Lease is the claim under which the attempt ran; CompleteOutbox refuses a stale one.
	Lease string
	// StartedAt and At are when the attempt began and ended.
	StartedAt time.Time
	At        time.Time
	// Outcome is delivered, retry or failed.
	Outcome Outcome
	// StatusCode is the HTTP status of a webhook answer, 0 when none.
	StatusCode int
	// Error is the short, secret-free failure reason; empty on success.
	Error string
	// NextAttemptAt is when to try again (OutcomeRetry only).
	NextAttemptAt time.Time
}

var (
	// ErrDuplicate is returned by EnqueueOutbox when a message with the same ID exists.
	ErrDuplicate = errors.New("outbox: a message with this ID exists")
	// ErrNotFound is returned for an unknown message ID.
	ErrNotFound = errors.New("outbox: no such message")
	// ErrLeaseLost is returned by CompleteOutbox when the message is no longer held by the given
	// lease: it expired and another worker claimed the message, or the message is already final.
	ErrLeaseLost = errors.New("outbox: lease lost")
)
