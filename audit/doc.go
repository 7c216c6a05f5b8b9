// Package audit keeps a tamper-evident record of what happened to grants:
// every approval, denial, redemption, expiry, revocation and replay, and the
// one-time codes sent and locked out.
//
// Picture a staffed kiosk at a utility: a clerk checks a customer's ID and
// approves a device-grant request for the customer's account. Months later
// the customer disputes it. The utility must show who approved what, for
// whom, when, and that nobody has quietly edited or deleted the entry since.
//
// # Recording events
//
// Grant handlers describe what happened as an Event and hand it to a Sink:
//
//	sink.Record(ctx, audit.Event{
//		Type:      audit.EventApproved,
//		Grant:     audit.GrantDeviceCode,
//		Subject:   "customer-1042", // whom the grant is for
//		Actor:     "clerk-7",       // who approved it at the kiosk
//		ClientID:  "utility-tv-app",
//		RequestID: requester.GetID(),
//		Data:      map[string]any{"proofing": "id_document"},
//	})
//
// Never put secrets in an Event: no device codes, user codes, one-time codes
// or tokens. An audit log is tamper-evident, not confidential.
//
// Log is the Sink to use. Multi fans one event out to several sinks, for
// example the Log and an export to a SIEM.
//
// # Security Event Tokens
//
// Log writes each event as a Security Event Token (SET, RFC 8417): a JWT
// signed by the authorization server, with the JOSE header "typ" set to
// "secevent+jwt" (RFC 8417 Section 2.3), or, inside a batch, its claims set
// sealed by the batch's signed SET (see Sealing below). Its claims are:
//
//	iss     the issuer (Options.Issuer)
//	iat     when the SET was written
//	jti     a random 128-bit ID
//	aud     Options.Audience, if set
//	sub_id  the Subject as an RFC 9493 "opaque" subject identifier; "sub" is
//	        not used, so a SET cannot pass for an ID token (RFC 8417 Section 4.3)
//	toe     Event.Time, when the event happened
//	txn     Event.RequestID, tying together all events of one grant
//	seq     the position in the log: 1, 2, 3…
//	prev    base64url(SHA-256(compact JWS of the previous SET)); GenesisHash
//	        for seq 1
//	events  {"<Event.Type>": {"grant": …, "actor": …, "client_id": …, <Data>…}}
//
// When the context given to Record carries an HTTP request ID (observe.WithRequestID, set for each
// request by observe.Handler), the event's payload also holds it as "http_request_id"
// (DataRequestID), so the request's log lines and trace can be found from the event.
//
// SETs have no "exp": they state facts that stay true. Because signed
// records are ordinary signed JWTs, any JOSE library can read them, and they
// can be forwarded to other systems as they are; to forward a record that a
// later one seals, re-sign it for the recipient or send the chain up to the
// sealing record.
//
// Sign with an asymmetric key (ES256 is a good default) so that those who can
// verify the log cannot write to it. A key in a KMS or HSM works through
// github.com/go-jose/go-jose/v3/cryptosigner.Opaque with Options.KeyID set.
//
// # The chain
//
// Each SET names its predecessor's hash and its own sequence number.
// Storage.AppendAuditRecords only accepts a batch whose first seq is the last
// seq plus one, atomically, so two writers (goroutines or server instances)
// never both extend the same record: the loser gets ErrConflict and Log
// chains its batch again on top of the winner.
//
// # Sealing: one signature per batch
//
// Signing is the expensive part of a record (an ES256 signature costs about
// half of what a whole token request does), so Log signs batches, not events. While
// one goroutine appends, the events recorded meanwhile queue up; the next
// writer appends them all at once, and only the newest record of the batch is
// a signed SET. The records before it in the batch are stored as their bare
// JSON claims sets: the same claims, chained by "prev" like every record, but
// without a JWS around them. The signed record's "prev" is under its
// signature and names the hash of the record before it, which names the one
// before that, and so on: one signature seals the whole batch, and every
// record before it. Nobody without the key can change, add or remove an
// unsigned record without breaking the chain at the next signed record.
//
// An event recorded while nothing else is being written is a batch of one,
// signed on its own. Under load a signature costs little per event. Record
// returns only once its event is stored and sealed. Options.MaxBatch bounds a
// batch; MaxBatch 1 signs every event.
//
// A log therefore never legitimately ends with an unsigned record; Verify
// reports one as ReasonUnsealed. An unsigned record is not a standalone
// token: Decode refuses it. Read events with a Verifier and its Visit func,
// which hands over each event once the signature that seals it checked out.
//
// # What tamper evidence does and does not give you
//
// Someone with write access to the database but not the signing key cannot
// edit, insert, remove, reorder or replace a record in the middle of the
// log without Verify noticing.
//
// They can delete the newest records: a shorter chain is still a valid
// chain. To catch that, copy Report.Head (Head.String gives "<seq>:<hash>")
// regularly to a place they cannot change, such as a ticket, an e-mail to
// the auditors or another organisation's log, and verify later with
// Verifier.Anchor set to it. Records written after the last anchor are only
// as safe as the database.
//
// Whoever holds the signing key can rewrite the whole log; anchors catch that
// too, for the part they cover. Keep the key in a KMS or HSM.
//
// The log proves what the server recorded, not that it recorded everything:
// a handler that fails to call Record leaves no trace. Record errors should
// be treated as failures of the audited operation.
//
// # Storage
//
// Storage is three methods. MemoryStorage is for tests and demos; the SQL
// store implements the same interface. Any implementation must pass
// audittest.RunStorageTests.
package audit
