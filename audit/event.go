package audit

import (
	"fmt"
	"net/url"
	"time"
)

// Event type URIs for the events the grants in this module emit. RFC 8417
// Section 2.2 asks that event identifiers be stable URIs; these live in the
// project's namespace and never change meaning once released.
const (
	// EventRequested: a client asked for a grant that waits for a person (a CIBA backchannel
	// authentication request) and the request was stored.
	EventRequested = "https://github.com/fosite-contrib/grants/event/pending/requested"
	// EventApproved: a person (or staff acting for them) approved a pending
	// grant, e.g. a kiosk clerk checked an ID and approved a device code.
	EventApproved = "https://github.com/fosite-contrib/grants/event/pending/approved"
	// EventDenied: a pending grant was denied by the user or by staff.
	EventDenied = "https://github.com/fosite-contrib/grants/event/pending/denied"
	// EventRedeemed: the client exchanged an approved grant for tokens.
	EventRedeemed = "https://github.com/fosite-contrib/grants/event/pending/redeemed"
	// EventExpired: a pending grant reached its lifetime without being used.
	EventExpired = "https://github.com/fosite-contrib/grants/event/pending/expired"
	// EventRevoked: an approved or issued grant was revoked.
	EventRevoked = "https://github.com/fosite-contrib/grants/event/pending/revoked"
	// EventReplayed: a grant that was already redeemed was presented again. Kept so that older logs
	// still read.
	//
	// Deprecated: no grant records it any more (the OTP grant did): every grant records a replay as the
	// revocation it causes, EventRevoked with reason "replayed" (pending.ReplayEvent).
	EventReplayed = "https://github.com/fosite-contrib/grants/event/pending/replayed"
	// EventFlagged: a grant was found abused (a burned code, a report, staff) and ended; what it issued
	// was revoked.
	EventFlagged = "https://github.com/fosite-contrib/grants/event/pending/flagged"
	// EventPolicyRefused: a cross-device security policy refused something (a rate limit, an untrusted
	// network or device, a scope beyond the ceiling, an approval from another network, a burned code).
	EventPolicyRefused = "https://github.com/fosite-contrib/grants/event/policy/refused"
	// EventOTPSent: a one-time code was sent to the user over a channel.
	EventOTPSent = "https://github.com/fosite-contrib/grants/event/otp/sent"
	// EventOTPLockout: too many wrong one-time codes locked a grant or account.
	EventOTPLockout = "https://github.com/fosite-contrib/grants/event/otp/lockout"
)

// Grant kinds for Event.Grant, so that every grant in this module names itself
// the same way and an auditor can filter on one value.
const (
	GrantDeviceCode = "device_code" // RFC 8628 device authorization grant
	GrantCIBA       = "ciba"        // OpenID CIBA Core 1.0
	GrantOTP        = "otp"         // this module's one-time-code grant
	GrantReciprocal = "reciprocal"  // draft-ietf-oauth-reciprocal
)

// Event is one auditable fact about a grant: who, what, for whom, when.
//
// Never put secrets in an Event: no device codes, user codes, one-time codes,
// tokens, HMAC keys or passwords, not in Data either. Events are stored for
// years, read by auditors and exported to other systems; they are
// tamper-evident, not confidential. Correlate through RequestID (the fosite
// request ID) instead.
type Event struct {
	// Type is the event type, an absolute URI such as EventApproved. It
	// becomes the member name in the SET "events" claim (RFC 8417 Section 2.2).
	Type string
	// Grant names the grant kind, e.g. GrantDeviceCode.
	Grant string
	// Subject identifies the user the grant is for (the fosite subject). It
	// is carried as an RFC 9493 "opaque" subject identifier in "sub_id".
	// Empty when the subject is not known yet.
	Subject string
	// Actor identifies who acted when that is not the subject, e.g. the
	// kiosk staff member who checked the ID and approved the request.
	Actor string
	// ClientID is the OAuth client the grant was requested by.
	ClientID string
	// RequestID is the fosite request ID of the grant. It becomes the SET
	// "txn" claim (RFC 8417 Section 2.2), so all events of one grant share it.
	RequestID string
	// Time is when the event happened ("toe", RFC 8417 Section 2.2). Zero
	// means the time the Log records it. It is stored to the second.
	Time time.Time
	// Data holds extra event claims: the proofing method ("id_document"),
	// the delivery channel, the device address. Values must marshal to JSON.
	// Keys must not be one of the names Log uses itself ("grant", "actor",
	// "client_id").
	Data map[string]any
}

// Names of the members Log writes into an event's payload object.
const (
	claimGrant    = "grant"
	claimActor    = "actor"
	claimClientID = "client_id"
)

func reservedDataKey(k string) bool {
	return k == claimGrant || k == claimActor || k == claimClientID
}

// validate reports why e cannot be recorded, or nil.
func (e Event) validate() error {
	if e.Type == "" {
		return fmt.Errorf("audit: event has no Type")
	}
	u, err := url.Parse(e.Type)
	// RFC 8417 Section 2.2: the "events" member names are URIs.
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("audit: event Type %q is not an absolute URI", e.Type)
	}
	for k := range e.Data {
		if reservedDataKey(k) {
			return fmt.Errorf("audit: event Data key %q is reserved; use the Event field instead", k)
		}
		if k == "" {
			return fmt.Errorf("audit: event Data has an empty key")
		}
	}
	return nil
}
