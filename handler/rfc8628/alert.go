package rfc8628

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	fositehmac "github.com/ory/fosite/token/hmac"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
)

// AlertRecipients tells the Alerter where to reach a user. The application owns its users' contact
// details; the library never stores them.
type AlertRecipients interface {
	// AlertDestination returns the channel and address to alert subject at (an e-mail address for
	// notify.Email, an E.164 number for notify.SMS), or an empty address to send nothing.
	AlertDestination(ctx context.Context, subject string) (channel notify.Channel, to string, err error)
}

// AlertRecipientsFunc adapts a function to AlertRecipients.
type AlertRecipientsFunc func(ctx context.Context, subject string) (notify.Channel, string, error)

// AlertDestination calls f.
func (f AlertRecipientsFunc) AlertDestination(ctx context.Context, subject string) (notify.Channel, string, error) {
	return f(ctx, subject)
}

// AlertStorage is what the Alerter needs of the store: finding a grant by request ID, ending it, the
// single-use record of links, and revoking what the grant issued.
type AlertStorage interface {
	pending.IndexStorage
	oauth2.TokenRevocationStorage
}

// Alert is what an alert message says, for a custom Render.
type Alert struct {
	// ClientID and ClientName name the client as it claimed itself (ClientName is "" when the client has
	// no name); the person must judge whether that was really their device.
	ClientID, ClientName string
	// Scopes are the scopes granted.
	Scopes     []string
	ApprovedAt time.Time
	Device     pending.DeviceInfo
	// DeactivateURL is the one-click link that deactivates the grant and revokes its tokens.
	DeactivateURL string
	// LinkExpiresAt is when the link stops working.
	LinkExpiresAt time.Time
}

// Alerter implements the anti-phishing alert of Google's note "Authorizing rich-client devices without
// a web browser": after an approval made with a user code, it messages the user with the claimed
// identity of the client, the scopes, the time and the device, and a one-click link that deactivates
// the grant and revokes every token it issued.
//
// The link carries the grant's request ID, the subject and an expiry, authenticated with HMAC-SHA256
// under a key derived from the global secret for this purpose alone. It works once (the store records
// its use) and until it expires. It grants nothing but deactivation, so a leaked link can only do
// what its owner would.
type Alerter struct {
	// Sender sends alerts directly when Outbox is nil.
	Sender notify.Sender
	// Outbox, when set, queues alerts durably instead: in the approval's transaction (when the store
	// supports them), for an outbox.Worker whose Deliverer routes outbox.NotifyScheme to an
	// outbox.Notify. Kick, when set, is called after the approval commits (Worker.Kick).
	Outbox     *outbox.Queue
	Kick       func()
	Recipients AlertRecipients
	Storage    AlertStorage
	// Config provides the global secret (a *fosite.Config will do).
	Config fositehmac.HMACStrategyConfigurator
	// DeactivateURL is the absolute URL of the page that takes the link (see Deactivate), e.g.
	// https://as.example.com/device/deactivate. The token is added as the query parameter "token".
	DeactivateURL string
	// LinkLifetime is how long a link works; 0 means 7 days.
	LinkLifetime time.Duration
	// Render writes the message; nil uses a plain English text.
	Render func(ctx context.Context, a Alert) (notify.Message, error)
	// Audit receives an audit.EventFlagged event for every deactivation; nil records none.
	Audit audit.Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	lifecycle *pending.Lifecycle // the grant's, when New made the Alerter
}

// Errors of Deactivate, wrapped in an invalid_request (400) whose hint a person can read; test with
// errors.Is.
var (
	// ErrInvalidLink: the link is malformed, forged, expired, or names a grant that is gone.
	ErrInvalidLink = errors.New("rfc8628: the deactivation link is not valid or has expired")
	// ErrLinkUsed: the link was used already.
	ErrLinkUsed = errors.New("rfc8628: the deactivation link has already been used")
)

func invalidLink(hint string) error {
	return fosite.ErrInvalidRequest.WithHint(hint).WithWrap(ErrInvalidLink)
}

const badLink = "The deactivation link is not valid or has expired."

func (a *Alerter) lifetime() time.Duration {
	if a.LinkLifetime > 0 {
		return a.LinkLifetime
	}
	return 7 * 24 * time.Hour
}

// Message writes the alert to subject about the approval auth, or reports send = false when the
// subject has no destination.
func (a *Alerter) Message(ctx context.Context, auth *Authorization, subject string, approvedAt time.Time) (m notify.Message, send bool, err error) {
	channel, to, err := a.Recipients.AlertDestination(ctx, subject)
	if err != nil {
		return m, false, fmt.Errorf("rfc8628: alert destination: %w", err)
	}
	if to == "" {
		return m, false, nil
	}
	exp := approvedAt.Add(a.lifetime())
	token, err := a.LinkToken(ctx, auth.RequestID, subject, exp)
	if err != nil {
		return m, false, err
	}
	link, err := url.Parse(a.DeactivateURL)
	if err != nil || !link.IsAbs() {
		return m, false, fmt.Errorf("rfc8628: the Alerter's DeactivateURL %q is not an absolute URL", a.DeactivateURL)
	}
	q := link.Query()
	q.Set("token", token)
	link.RawQuery = q.Encode()
	scopes := auth.GrantedScopes
	if scopes == nil {
		scopes = auth.RequestedScopes
	}
	al := Alert{
		ClientID: auth.Client.GetID(), ClientName: clientName(auth.Client), Scopes: scopes,
		ApprovedAt: approvedAt, Device: auth.Device, DeactivateURL: link.String(), LinkExpiresAt: exp,
	}
	render := a.Render
	if render == nil {
		render = DefaultAlertMessage
	}
	if m, err = render(ctx, al); err != nil {
		return m, false, err
	}
	m.Channel, m.To = channel, to
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	m.Meta["kind"] = outbox.KindDeviceAlert
	if err := m.Validate(); err != nil {
		return m, false, err
	}
	return m, true, nil
}

// Alert sends subject the alert about the approval auth (through the outbox when one is set). A
// subject without a destination gets nothing.
func (a *Alerter) Alert(ctx context.Context, auth *Authorization, subject string, approvedAt time.Time) error {
	m, send, err := a.Message(ctx, auth, subject, approvedAt)
	if err != nil || !send {
		return err
	}
	if a.Outbox != nil {
		if err := a.enqueue(ctx, auth, m); err != nil {
			return err
		}
		if a.Kick != nil {
			a.Kick()
		}
		return nil
	}
	return a.Sender.Send(ctx, m)
}

// enqueue queues m in the outbox under an ID derived from the grant, so a retried approval cannot
// queue it twice.
func (a *Alerter) enqueue(ctx context.Context, auth *Authorization, m notify.Message) error {
	om, err := outbox.NotifyMessage(outbox.KindDeviceAlert+":"+auth.RequestID, outbox.KindDeviceAlert, m)
	if err != nil {
		return err
	}
	return a.Outbox.Enqueue(ctx, om)
}

// clientName is the client's display name when it has one (OpenID Connect Dynamic Registration
// client_name, as some client types expose it).
func clientName(c fosite.Client) string {
	if n, ok := c.(interface{ GetName() string }); ok {
		return n.GetName()
	}
	if n, ok := c.(interface{ GetClientName() string }); ok {
		return n.GetClientName()
	}
	return ""
}

// DefaultAlertMessage is the plain English alert.
func DefaultAlertMessage(_ context.Context, a Alert) (notify.Message, error) {
	name := a.ClientID
	if a.ClientName != "" {
		name = a.ClientName + " (" + a.ClientID + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "You connected a device to your account.\n\n")
	fmt.Fprintf(&b, "Application (as it calls itself): %s\n", name)
	fmt.Fprintf(&b, "Access: %s\n", strings.Join(a.Scopes, ", "))
	fmt.Fprintf(&b, "When: %s\n", a.ApprovedAt.UTC().Format(time.RFC1123))
	fmt.Fprintf(&b, "Device: %s, %s\n\n", a.Device.RemoteAddr, a.Device.UserAgent)
	fmt.Fprintf(&b, "If this was not you, or you do not recognise the device, deactivate it now:\n%s\n\n", a.DeactivateURL)
	fmt.Fprintf(&b, "The link works once, until %s.\n", a.LinkExpiresAt.UTC().Format(time.RFC1123))
	return notify.Message{Subject: "A device was connected to your account", Text: b.String()}, nil
}

func (a *Alerter) key(ctx context.Context) ([]byte, error) {
	secret, err := a.Config.GetGlobalSecret(ctx)
	if err != nil {
		return nil, err
	}
	if len(secret) < 32 {
		return nil, fmt.Errorf("rfc8628: the global secret must be at least 32 bytes, got %d", len(secret))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fosite-contrib/grants device deactivation link v1"))
	return m.Sum(nil), nil
}

// LinkToken returns the signed deactivation token for the grant with that request ID, for subject,
// valid until exp: "v1.<b64 request ID>.<b64 subject>.<exp unix>.<b64 HMAC>".
func (a *Alerter) LinkToken(ctx context.Context, requestID, subject string, exp time.Time) (string, error) {
	k, err := a.key(ctx)
	if err != nil {
		return "", err
	}
	body := "v1." + base64.RawURLEncoding.EncodeToString([]byte(requestID)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(subject)) + "." + strconv.FormatInt(exp.Unix(), 10)
	m := hmac.New(sha256.New, k)
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// maxLinkToken bounds what ParseLinkToken reads.
const maxLinkToken = 1024

// ParseLinkToken checks a deactivation token's MAC (in constant time) and expiry at now, and returns
// what it names. It does not check single use; Deactivate does.
func (a *Alerter) ParseLinkToken(ctx context.Context, token string, now time.Time) (requestID, subject string, exp time.Time, err error) {
	if len(token) > maxLinkToken {
		return "", "", time.Time{}, invalidLink(badLink)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[0] != "v1" {
		return "", "", time.Time{}, invalidLink(badLink)
	}
	k, err := a.key(ctx)
	if err != nil {
		return "", "", time.Time{}, rfc6749.ServerError(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(strings.Join(parts[:4], ".")))
	sig, err := base64.RawURLEncoding.DecodeString(parts[4])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return "", "", time.Time{}, invalidLink(badLink)
	}
	rid, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	sub, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	sec, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", "", time.Time{}, invalidLink(badLink)
	}
	exp = time.Unix(sec, 0).UTC()
	if !now.Before(exp) {
		return "", "", time.Time{}, invalidLink("The deactivation link has expired.")
	}
	return string(rid), string(sub), exp, nil
}

// Deactivated is what Deactivate did.
type Deactivated struct {
	RequestID, ClientID, Subject string
}

// Deactivate takes a deactivation link's token: once, before it expires, it ends the grant (a pending
// or approved grant can no longer be redeemed: the device gets expired_token) and revokes every access
// and refresh token issued from it (by request ID, through fosite's TokenRevocationStorage). Errors:
// ErrInvalidLink, ErrLinkUsed (both change nothing), server_error.
func (a *Alerter) Deactivate(ctx context.Context, token string) (*Deactivated, error) {
	now := clock.Now(a.Now)
	rid, subject, exp, err := a.ParseLinkToken(ctx, token, now)
	if err != nil {
		return nil, err
	}
	g, err := a.Storage.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, rid)
	if errors.Is(err, pending.ErrNotFound) {
		return nil, invalidLink("The device connection no longer exists.")
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if g.Subject != subject {
		return nil, invalidLink(badLink)
	}
	sum := sha256.Sum256([]byte(token))
	if err := a.Storage.UseOnce(ctx, "device-deactivate|"+base64.RawURLEncoding.EncodeToString(sum[:]), exp, now); errors.Is(err, pending.ErrStateChanged) {
		return nil, fosite.ErrInvalidRequest.WithHint("The deactivation link has already been used.").WithWrap(ErrLinkUsed)
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if err := a.end(ctx, g, subject); err != nil {
		return nil, err
	}
	return &Deactivated{RequestID: rid, ClientID: g.ClientID(), Subject: subject}, nil
}

// DeactivateFor ends a grant that subject approved, by request ID, for a signed-in user acting on the
// repeat-approval warning. A grant of someone else is not found.
func (a *Alerter) DeactivateFor(ctx context.Context, subject, requestID string) (*Deactivated, error) {
	g, err := a.Storage.GetPendingGrantByRequestID(ctx, pending.KindDeviceCode, requestID)
	if errors.Is(err, pending.ErrNotFound) || (err == nil && (subject == "" || g.Subject != subject)) {
		return nil, fosite.ErrNotFound.WithHint("No device connection of yours has that ID.")
	} else if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	if err := a.end(ctx, g, subject); err != nil {
		return nil, err
	}
	return &Deactivated{RequestID: requestID, ClientID: g.ClientID(), Subject: subject}, nil
}

// end flags g as reported by the person it is for (pending.Lifecycle.Flag: ended, its tokens revoked,
// announced to resource servers when the policy has Events, audited as audit.EventFlagged).
func (a *Alerter) end(ctx context.Context, g *pending.Grant, subject string) error {
	l := a.lifecycle
	if l == nil {
		store, ok := a.Storage.(pending.TokenStorage)
		if !ok {
			return fosite.ErrServerError.WithDebugf("rfc8628: an Alerter built without New needs a Storage implementing pending.TokenStorage, got %T", a.Storage)
		}
		l = &pending.Lifecycle{Kind: pending.KindDeviceCode, Storage: store, Audit: a.Audit, Now: a.Now}
	}
	return l.Flag(ctx, g, pending.ReasonReported, subject)
}
