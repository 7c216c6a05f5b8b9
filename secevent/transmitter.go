package secevent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/outbound"
	"github.com/fosite-contrib/grants/outbox"
)

// EventGrantRevoked is the event type URI of the SETs a Transmitter sends: a grant was found
// abused, ended, and every token it issued revoked (see the package documentation for why this
// module defines it rather than reuse a CAEP or RISC event type).
const EventGrantRevoked = "https://github.com/fosite-contrib/grants/event/grant/revoked"

// TokenType is the "typ" header of every SET (RFC 8417 Section 2.3).
const TokenType = "secevent+jwt"

// Limits of a Transmitter's configuration.
const (
	// MaxReceivers bounds Options.Receivers: each announcement signs and queues one SET per
	// receiver inside the caller's transaction.
	MaxReceivers = 32
	// MaxBearerTokenBytes bounds Receiver.BearerToken.
	MaxBearerTokenBytes = 4096
	// maxIDBytes bounds the request ID that names the outbox message (outbox IDs are at most 255).
	maxIDBytes = 200
	// maxAudienceBytes bounds Receiver.Audience and Options.Issuer.
	maxAudienceBytes = 2048
)

// Receiver is a SET receiver: typically a resource server that accepts the server's access tokens and
// caches what it learns of them (RFC 8935 "SET Recipient").
type Receiver struct {
	// URL is the receiver's push endpoint (RFC 8935 Section 2). It must be an https URL (see
	// outbound.CheckURL); http to a loopback host only with Options.AllowLoopback.
	URL string
	// Audience is the "aud" claim of the SETs the receiver gets: the identifier it checks (RFC 8417
	// Section 2.2). Required.
	Audience string
	// BearerToken, when set, authenticates the push with "Authorization: Bearer <token>" (RFC 6750
	// Section 2.1, RFC 8935 Section 2.1). It is sealed in the outbox like every webhook credential.
	BearerToken string
}

// Options configures New.
type Options struct {
	// Issuer is the "iss" claim of every SET: the authorization server's issuer identifier, the one
	// its ID tokens carry. Required.
	Issuer string
	// Key signs the SETs. Its algorithm must be asymmetric (ES256, ES384, ES512, EdDSA, RS256, …,
	// PS512: audit.DefaultAlgorithms): receivers verify with the public key, which must not let them
	// forge events. HS256/384/512 and "none" are refused. A jose.JSONWebKey with a KeyID puts "kid"
	// in the header; publish the public key where receivers find it (the server's jwks_uri).
	Key jose.SigningKey
	// Receivers get one SET each per announcement: 1 to MaxReceivers of them.
	Receivers []Receiver
	// Queue is the outbox: Announce enqueues with the caller's context, so the SETs join the
	// transaction that ends the grant. Required.
	Queue *outbox.Queue
	// AllowLoopback accepts receivers on loopback hosts, over http too (development only). The
	// Webhook that delivers the SETs must allow loopback as well, or it refuses them.
	AllowLoopback bool
	// Now is the clock ("iat", and "toe" when a Remediation has no Time); nil means time.Now.
	Now func() time.Time
}

// Transmitter announces abused grants to SET receivers (RFC 8935 "SET Transmitter"). It implements
// pending.SecurityEvents. Create it with New; it is safe for concurrent use.
type Transmitter struct {
	issuer    string
	signer    jose.Signer
	receivers []receiver
	queue     *outbox.Queue
	now       func() time.Time
}

type receiver struct {
	Receiver
	key string // names the receiver in outbox message IDs
}

var _ pending.SecurityEvents = (*Transmitter)(nil)

// New checks opts and returns a Transmitter. It refuses a missing issuer or queue, a symmetric or
// unsigned algorithm, a key that cannot sign with its algorithm, no receivers or more than
// MaxReceivers, a receiver whose URL outbound.CheckURL refuses (errors.Is outbound.ErrForbidden), one
// without an audience, a bearer token that is not an RFC 6750 b64token, and the same URL and
// audience twice.
func New(opts Options) (*Transmitter, error) {
	if opts.Issuer == "" || len(opts.Issuer) > maxAudienceBytes {
		return nil, errors.New("secevent: Options.Issuer must be the server's issuer identifier")
	}
	if opts.Queue == nil {
		return nil, errors.New("secevent: Options.Queue is required")
	}
	if !asymmetric(opts.Key.Algorithm) {
		return nil, fmt.Errorf("secevent: signing algorithm %q is not allowed: use an asymmetric one (%v)", opts.Key.Algorithm, audit.DefaultAlgorithms)
	}
	signer, err := jose.NewSigner(opts.Key, (&jose.SignerOptions{}).WithType(TokenType))
	if err != nil {
		return nil, fmt.Errorf("secevent: the key cannot sign with %s: %w", opts.Key.Algorithm, err)
	}
	if len(opts.Receivers) == 0 || len(opts.Receivers) > MaxReceivers {
		return nil, fmt.Errorf("secevent: 1 to %d receivers are needed, got %d", MaxReceivers, len(opts.Receivers))
	}
	t := &Transmitter{issuer: opts.Issuer, signer: signer, queue: opts.Queue, now: opts.Now}
	seen := map[string]bool{}
	for i, r := range opts.Receivers {
		if err := outbound.CheckURL(r.URL, opts.AllowLoopback); err != nil {
			return nil, fmt.Errorf("secevent: receiver %d: %w", i, err)
		}
		if len(r.URL) > 2048 {
			return nil, fmt.Errorf("secevent: receiver %d: URL longer than 2048 bytes", i)
		}
		if r.Audience == "" || len(r.Audience) > maxAudienceBytes {
			return nil, fmt.Errorf("secevent: receiver %d (%s): Audience is required", i, host(r.URL))
		}
		if r.BearerToken != "" && !b64token(r.BearerToken) {
			return nil, fmt.Errorf("secevent: receiver %d (%s): BearerToken must be an RFC 6750 b64token of at most %d bytes", i, host(r.URL), MaxBearerTokenBytes)
		}
		sum := sha256.Sum256([]byte(r.URL + "\n" + r.Audience))
		key := hex.EncodeToString(sum[:6])
		if seen[key] {
			return nil, fmt.Errorf("secevent: receiver %d (%s): the same URL and audience are configured twice", i, host(r.URL))
		}
		seen[key] = true
		t.receivers = append(t.receivers, receiver{Receiver: r, key: key})
	}
	return t, nil
}

// Announce implements pending.SecurityEvents: it signs one SET describing r for each receiver and
// enqueues it in the outbox with ctx, so it commits or rolls back with the caller's transaction. It
// does not touch the network: the outbox worker delivers (call Worker.Kick after the commit to
// deliver at once). Announcing the same grant again queues nothing new (the outbox message IDs are
// derived from the request ID and the receiver) and returns nil.
//
// r.RequestID (at most 200 bytes), r.ClientID and r.Reason are required; a zero r.Time means now.
func (t *Transmitter) Announce(ctx context.Context, r pending.Remediation) error {
	switch {
	case r.RequestID == "" || len(r.RequestID) > maxIDBytes:
		return fmt.Errorf("secevent: a remediation needs a request ID of 1 to %d bytes", maxIDBytes)
	case r.ClientID == "":
		return errors.New("secevent: a remediation needs the client ID")
	case r.Reason == "":
		return errors.New("secevent: a remediation needs a reason")
	}
	now := clock.Now(t.now)
	when := r.Time
	if when.IsZero() {
		when = now
	}
	event, err := json.Marshal(GrantRevoked{
		RequestID:     r.RequestID,
		ClientID:      r.ClientID,
		Kind:          string(r.Kind),
		Reason:        r.Reason,
		TokensRevoked: r.TokensRevoked,
	})
	if err != nil {
		return fmt.Errorf("secevent: %w", err)
	}
	var sub *subjectID
	if r.Subject != "" {
		sub = &subjectID{Format: "iss_sub", Issuer: t.issuer, Subject: r.Subject}
	}
	for _, rc := range t.receivers {
		payload, err := json.Marshal(claims{
			Issuer:      t.issuer,
			ID:          rand.Text(),
			IssuedAt:    now.Unix(),
			Audience:    rc.Audience,
			TimeOfEvent: when.Unix(),
			SubjectID:   sub,
			Events:      map[string]json.RawMessage{EventGrantRevoked: event},
		})
		if err != nil {
			return fmt.Errorf("secevent: %w", err)
		}
		jws, err := t.signer.Sign(payload)
		if err != nil {
			return fmt.Errorf("secevent: sign: %w", err)
		}
		set, err := jws.CompactSerialize()
		if err != nil {
			return fmt.Errorf("secevent: sign: %w", err)
		}
		id := "secevent:" + r.RequestID + ":" + rc.key
		err = t.queue.Enqueue(ctx, outbox.SecurityEventMessage(id, rc.URL, rc.BearerToken, []byte(set)))
		if errors.Is(err, outbox.ErrDuplicate) {
			continue // announced before: the receiver gets the first SET
		}
		if err != nil {
			return fmt.Errorf("secevent: queue the SET for %s: %w", host(rc.URL), err)
		}
	}
	return nil
}

// GrantRevoked is the payload of an EventGrantRevoked event: what a receiver needs to find what it
// holds of the grant. It carries no token, code or secret.
type GrantRevoked struct {
	// RequestID is the grant's request ID, which every token it issued carries (fosite's request ID;
	// an introspection answer or a JWT access token maps tokens to it where the server exposes it).
	RequestID string `json:"request_id"`
	// ClientID is the client the grant was issued to.
	ClientID string `json:"client_id"`
	// Kind is the kind of grant: "device_code" (RFC 8628), "ciba", "otp" (pending.Kind).
	Kind string `json:"kind,omitempty"`
	// Reason says why the grant was found abused: "burned_code", "reported", "staff",
	// "administrator" (pending.Reason…).
	Reason string `json:"reason"`
	// TokensRevoked is true when the grant had issued tokens, all revoked now; false when it was
	// ended before any was issued.
	TokensRevoked bool `json:"tokens_revoked"`
}

// claims is the JWT claims set of one SET (RFC 8417 Section 2.2).
type claims struct {
	Issuer      string `json:"iss"`
	ID          string `json:"jti"`
	IssuedAt    int64  `json:"iat"`
	Audience    string `json:"aud"`
	TimeOfEvent int64  `json:"toe"`
	// SubjectID is the user the grant was approved for (RFC 9493 Section 4.1); "sub" is left out,
	// so that a SET is never taken for an ID or access token (RFC 8417 Section 4.3).
	SubjectID *subjectID                 `json:"sub_id,omitempty"`
	Events    map[string]json.RawMessage `json:"events"`
}

// subjectID is an RFC 9493 Section 3.2.3 "iss_sub" subject identifier: the subject as the issuer's
// tokens name it.
type subjectID struct {
	Format  string `json:"format"`
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
}

func asymmetric(alg jose.SignatureAlgorithm) bool {
	for _, a := range audit.DefaultAlgorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// b64token reports whether s is an RFC 6750 Section 2.1 b64token of at most MaxBearerTokenBytes:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	if len(s) > MaxBearerTokenBytes {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// host is what errors show of a receiver URL: its host, never its path or query (CheckURL has
// accepted the URL).
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}
