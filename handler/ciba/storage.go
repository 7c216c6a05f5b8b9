package ciba

import (
	"context"
	"time"

	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/handler/pending"
)

// Record is what the CIBA grant keeps beside its pending grant (pending.Grant of KindCIBA): the
// reference the authentication-device side uses, the user the request is for, and where and how to
// call the client back. The client_notification_token is kept only sealed (AES-GCM under a key derived
// from the global secret): it is a credential the server must present later, so it cannot be hashed.
type Record struct {
	// Ref is the request's reference for the Decider (random, unique).
	Ref string
	// HandleSignature is the signature of the auth_req_id: the key of the pending grant.
	HandleSignature string
	// Subject is the user the request is for; empty for an enrolment-fallback request.
	Subject string
	// ClientID is the client that asked.
	ClientID string
	// Mode is the client's delivery mode when it asked.
	Mode DeliveryMode
	// NotificationEndpoint is the client's backchannel_client_notification_endpoint when it asked
	// (ping and push only).
	NotificationEndpoint string
	// SealedToken is the sealed client_notification_token (ping and push only).
	SealedToken []byte
	// SealedAuthReqID is the sealed auth_req_id (ping and push only): the callbacks carry it (CIBA Core
	// §10.2, §10.3.1), and only its signature is kept elsewhere.
	SealedAuthReqID []byte
	// CreatedAt and ExpiresAt are those of the pending grant.
	CreatedAt time.Time
	ExpiresAt time.Time
	// Notified is true once the final callback (ping, push tokens or push error) was queued.
	Notified bool
}

// RecordStorage keeps Records. Every method is safe for concurrent use; when the store is
// transactional and ctx carries a transaction, the methods join it.
type RecordStorage interface {
	// CreateCIBARecord stores a new record. pending.ErrCollision when the Ref is taken.
	CreateCIBARecord(ctx context.Context, r *Record) error
	// GetCIBARecord returns the record with that reference, or pending.ErrNotFound.
	GetCIBARecord(ctx context.Context, ref string) (*Record, error)
	// ListCIBARecordsBySubject returns the records for subject that have not expired at now, oldest
	// first (at most 100).
	ListCIBARecordsBySubject(ctx context.Context, subject string, now time.Time) ([]*Record, error)
	// ListExpiredCIBARecords returns up to limit records of mode push that expired before now and were
	// not notified, oldest first.
	ListExpiredCIBARecords(ctx context.Context, now time.Time, limit int) ([]*Record, error)
	// MarkCIBARecordNotified sets Notified, once: pending.ErrStateChanged when it was already set,
	// pending.ErrNotFound when there is no such record.
	MarkCIBARecordNotified(ctx context.Context, ref string) error
}

// Storage is everything the CIBA grant needs of the store: pending grants, records, fosite's token
// stores (to issue and to revoke on replay).
type Storage interface {
	pending.TokenStorage
	RecordStorage
	oauth2.TokenRevocationStorage
}
