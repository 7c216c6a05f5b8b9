package rfc8628

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
)

// GrantType is the grant type of the device access token request (RFC 8628 §3.4).
const GrantType fosite.GrantType = "urn:ietf:params:oauth:grant-type:device_code"

// SlowDownStep is what a slow_down adds to the polling interval (RFC 8628 §3.5).
const SlowDownStep = pending.DefaultSlowDownStep

// MaxDeviceLifespan bounds a device code's lifetime and its pickup window: a week each, as in the
// staffed-kiosk deployment (the person may need days to reach a kiosk, then days to bring the device
// back online). Longer values are cut to it.
const MaxDeviceLifespan = 7 * 24 * time.Hour

// Options configure the device grant. The zero value of each field means its default; New fills them
// in (Grant.Options returns the result).
type Options struct {
	// AuthorizationURL is the full URL of the device authorization endpoint, published in discovery as
	// device_authorization_endpoint (RFC 8628 §4). A private_key_jwt client assertion sent there may
	// name it as its audience.
	AuthorizationURL string
	// VerificationURI is the end-user verification URI shown on devices (RFC 8628 §3.2). Required. Keep
	// it short: people type it.
	VerificationURI string
	// CodeLifespan is how long device and user codes live. Default 10 minutes; at most
	// MaxDeviceLifespan.
	CodeLifespan time.Duration
	// PollingInterval is the minimum time between polls, in whole seconds (RFC 8628 §3.2 interval).
	// Default 5 seconds.
	PollingInterval time.Duration
	// UserCodeFormat is the user-code format. Default pending.UserCodeBase20 (RFC 8628 §6.1).
	UserCodeFormat pending.UserCodeFormat
	// UserCodeLimits bound user-code guessing (RFC 8628 §5.1); each zero field takes its value from
	// pending.DefaultUserCodeLimits, and -1 turns a limit off. See pending.Limiter for who is counted
	// where.
	UserCodeLimits pending.Limits
	// PickupWindow is how long, after approval, a device has to redeem its code, counted from the
	// approval. Default 0: the code keeps its original expiry. At most MaxDeviceLifespan.
	PickupWindow time.Duration
	// ClientLifespans overrides CodeLifespan and PickupWindow per client ID. A client implementing
	// DeviceLifespanClient overrides both.
	ClientLifespans map[string]Lifespans
	// RepeatApprovalWindow is how far back Verifier.LookupFor looks for earlier approvals of the same
	// client by the same user (the repeat-approval warning). Default 24 hours.
	RepeatApprovalWindow time.Duration
	// PrintedCodeKeys holds, per client ID, the key of the client's pre-printed user codes (see
	// PrintedUserCode); such a confidential client may send device_serial.
	PrintedCodeKeys map[string][]byte

	// Policy is the cross-device security policy of the grant (RFC 10027; see pending.Policy and the
	// package guide's "Cross-device phishing"). Defaults: at most 60 device authorization requests per
	// client address per 15 minutes (Initiation.PerAddress; -1 turns a limit off), and a user code
	// looked up by more than 3 signed-in accounts is burned (BurnAfterAccounts; -1 turns it off).
	// Everything else is off until set.
	Policy pending.Policy

	// Audit receives an event for every approval, denial, redemption, expiry and revocation; nil records
	// none. Usually an *audit.Log.
	Audit audit.Sink
	// Alerts, when set, messages users after each user-code approval, with a deactivation link
	// (Grant.Alerter). The store must implement KioskStorage.
	Alerts *AlertOptions
	// Kiosk, when set, enables the staffed-kiosk API (Grant.Kiosk). The store must implement
	// KioskStorage.
	Kiosk *KioskOptions

	// Rand is the source of randomness for user codes; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per refused request, replays and failures (never a secret); nil
	// discards. Pending polls are not logged.
	Logger *slog.Logger
}

// DefaultInitiationLimits bound device authorization requests (Options.Policy.Initiation): 60 per
// client address per 15 minutes — a household or a shop starts a few; a script phishing with fresh
// codes (RFC 10027 §4.2.1) needs many.
var DefaultInitiationLimits = pending.InitiationLimits{PerAddress: 60, Window: 15 * time.Minute}

// DefaultBurnAfterAccounts is Options.Policy.BurnAfterAccounts by default: a user code looked up by a
// fourth signed-in account was sent to many people (RFC 10027 §4.2.2) and no longer works.
const DefaultBurnAfterAccounts = 3

// Lifespans are one client's device-grant lifetimes; zero means the default.
type Lifespans struct {
	CodeLifespan time.Duration
	PickupWindow time.Duration
}

// AlertOptions configure the post-approval alert (see Alerter).
type AlertOptions struct {
	// Sender sends alerts directly, unless Outbox is set.
	Sender notify.Sender
	// Outbox, when set, queues alerts durably instead, in the approval's transaction, for an
	// outbox.Worker whose Deliverer routes outbox.NotifyScheme to an outbox.Notify. Kick, when set, is
	// called after the approval commits (outbox.Worker.Kick).
	Outbox *outbox.Queue
	Kick   func()
	// Recipients says where to reach a user. Required.
	Recipients AlertRecipients
	// DeactivateURL is the absolute URL of the application's page that calls Alerter.Deactivate.
	// Required.
	DeactivateURL string
	// LinkLifetime is how long a deactivation link works. Default 7 days.
	LinkLifetime time.Duration
	// Render writes the message; nil uses DefaultAlertMessage.
	Render func(ctx context.Context, a Alert) (notify.Message, error)
}

// KioskOptions configure the staffed-kiosk API (see Kiosk).
type KioskOptions struct {
	// Staff says who is kiosk staff. Required.
	Staff StaffDirectory
	// Accounts resolves account identifiers. Required.
	Accounts Accounts
	// NewSession makes the session tokens are issued with for a subject, when a decision carries none.
	NewSession func(ctx context.Context, subject string) fosite.Session
}

// withDefaults returns o with every default filled in, or an error naming what is wrong.
func (o Options) withDefaults() (Options, error) {
	if o.VerificationURI == "" {
		// verification_uri is REQUIRED in the response (RFC 8628 §3.2).
		return o, errorf("Options.VerificationURI is required")
	}
	if o.CodeLifespan <= 0 {
		o.CodeLifespan = 10 * time.Minute
	}
	o.CodeLifespan = min(o.CodeLifespan, MaxDeviceLifespan)
	switch {
	case o.PollingInterval <= 0:
		o.PollingInterval = 5 * time.Second
	case o.PollingInterval < time.Second:
		o.PollingInterval = time.Second // interval is reported in whole seconds (RFC 8628 §3.2)
	default:
		o.PollingInterval = o.PollingInterval.Round(time.Second)
	}
	if o.UserCodeFormat.Length == 0 {
		o.UserCodeFormat = pending.UserCodeBase20
	}
	if err := o.UserCodeFormat.Validate(); err != nil {
		return o, errorf("%v", err)
	}
	o.UserCodeLimits = o.UserCodeLimits.Or(pending.DefaultUserCodeLimits)
	o.PickupWindow = min(max(o.PickupWindow, 0), MaxDeviceLifespan)
	o.Policy.Initiation = o.Policy.Initiation.Or(DefaultInitiationLimits)
	if o.Policy.BurnAfterAccounts == 0 {
		o.Policy.BurnAfterAccounts = DefaultBurnAfterAccounts
	}
	if o.RepeatApprovalWindow <= 0 {
		o.RepeatApprovalWindow = 24 * time.Hour
	}
	if a := o.Alerts; a != nil {
		if a.Recipients == nil || a.DeactivateURL == "" || (a.Sender == nil && a.Outbox == nil) {
			return o, errorf("Options.Alerts needs Recipients, DeactivateURL and a Sender or an Outbox")
		}
	}
	if k := o.Kiosk; k != nil && (k.Staff == nil || k.Accounts == nil) {
		return o, errorf("Options.Kiosk needs Staff and Accounts")
	}
	return o, nil
}

// lifespans returns the device code lifetime and the pickup window for client.
func (o *Options) lifespans(client fosite.Client) (lifespan, pickup time.Duration) {
	lifespan, pickup = o.CodeLifespan, o.PickupWindow
	if client == nil {
		return lifespan, pickup
	}
	if l, ok := o.ClientLifespans[client.GetID()]; ok {
		if l.CodeLifespan > 0 {
			lifespan = l.CodeLifespan
		}
		if l.PickupWindow > 0 {
			pickup = l.PickupWindow
		}
	}
	if dc, ok := client.(DeviceLifespanClient); ok {
		if l := dc.GetDeviceCodeLifespan(); l > 0 {
			lifespan = l
		}
		if p := dc.GetDevicePickupWindow(); p > 0 {
			pickup = p
		}
	}
	return min(lifespan, MaxDeviceLifespan), min(max(pickup, 0), MaxDeviceLifespan)
}

// DeviceLifespanClient is a client with its own device-grant lifetimes (client metadata). A zero value
// means the configured default; values above MaxDeviceLifespan are cut to it.
type DeviceLifespanClient interface {
	fosite.Client
	// GetDeviceCodeLifespan is how long this client's device and user codes live (RFC 8628 §3.2 expires_in).
	GetDeviceCodeLifespan() time.Duration
	// GetDevicePickupWindow is how long, after approval, this client has to redeem the device code.
	GetDevicePickupWindow() time.Duration
}

// DeviceClient is a ready-made DeviceLifespanClient: a fosite.DefaultClient with its own lifetimes.
type DeviceClient struct {
	*fosite.DefaultClient
	DeviceCodeLifespan time.Duration `json:"device_code_lifespan,omitempty"`
	DevicePickupWindow time.Duration `json:"device_pickup_window,omitempty"`
}

// GetDeviceCodeLifespan implements DeviceLifespanClient.
func (c *DeviceClient) GetDeviceCodeLifespan() time.Duration { return c.DeviceCodeLifespan }

// GetDevicePickupWindow implements DeviceLifespanClient.
func (c *DeviceClient) GetDevicePickupWindow() time.Duration { return c.DevicePickupWindow }
