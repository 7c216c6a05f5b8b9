package compose

import (
	"context"
	"log/slog"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// Config is fosite's configuration plus this module's. Every knob has a getter with a default, so the
// zero value of each field means "the default".
type Config struct {
	*fosite.Config

	// DeviceAuthorizationURL is the full URL of the device authorization endpoint, published in
	// discovery as device_authorization_endpoint (RFC 8628 §4) and accepted as the audience of a
	// private_key_jwt client assertion sent there.
	DeviceAuthorizationURL string
	// DeviceVerificationURI is the end-user verification URI shown on devices (RFC 8628 §3.2). Keep it
	// short: people type it.
	DeviceVerificationURI string
	// DeviceCodeLifespan is how long device and user codes live. Default 10 minutes.
	DeviceCodeLifespan time.Duration
	// DevicePollingInterval is the minimum time between polls. Default 5 seconds (RFC 8628 §3.2).
	DevicePollingInterval time.Duration
	// UserCodeFormat is the user-code format. Default pending.UserCodeBase20 (RFC 8628 §6.1).
	UserCodeFormat pending.UserCodeFormat
	// UserCodeAttemptsPerAddress bounds wrong user codes from one client address per window. Default 20.
	UserCodeAttemptsPerAddress int
	// UserCodeAttemptsGlobal bounds wrong user codes from everyone per window. Default 1000: with 20^8
	// codes, an attacker then finds a given live code with probability below 1 in 25 million per window.
	UserCodeAttemptsGlobal int
	// UserCodeAttemptWindow is the window of both limits. Default 15 minutes.
	UserCodeAttemptWindow time.Duration
	// DevicePickupWindow is how long, after approval, a device has to redeem its code. Default 0: the
	// code keeps its original expiry. At most rfc8628.MaxDeviceLifespan (a week).
	DevicePickupWindow time.Duration
	// DeviceClientLifespans overrides DeviceCodeLifespan and DevicePickupWindow per client ID (a client
	// implementing rfc8628.DeviceLifespanClient overrides both).
	DeviceClientLifespans map[string]DeviceLifespans
	// DeviceRepeatApprovalWindow is how far back the repeat-approval warning looks. Default 24 hours.
	DeviceRepeatApprovalWindow time.Duration
	// DevicePrintedCodeKeys holds, per client ID, the key of the client's pre-printed user codes (see
	// rfc8628.PrintedUserCode); such a (confidential) client may send device_serial.
	DevicePrintedCodeKeys map[string][]byte
	// DeviceAudit receives the device grant's audit events (approval, denial, redemption, expiry,
	// revocation); nil records none. Usually an *audit.Log.
	DeviceAudit audit.Sink
	// DeviceAlerts, when set, messages users after each user-code approval with a deactivation link.
	DeviceAlerts *DeviceAlertConfig
	// KioskStaff and KioskAccounts enable the staffed-kiosk API (Provider.DeviceKiosk).
	KioskStaff    rfc8628.StaffDirectory
	KioskAccounts rfc8628.Accounts

	// CIBA, OTP and Reciprocal configure those grants; each type is defined in its compose_<grant>.go.
	CIBA       CIBAConfig
	OTP        OTPConfig
	Reciprocal ReciprocalConfig
	// Registration configures dynamic client registration (RFC 7591); see compose_registration.go.
	Registration RegistrationConfig

	// Now is the clock of this module's handlers; nil means time.Now. (fosite's own handlers use time.Now.)
	Now func() time.Time
	// Logger receives this module's log lines; nil discards them.
	Logger *slog.Logger
}

var _ rfc8628.Config = (*Config)(nil)
var _ fosite.Configurator = (*Config)(nil)

// GetDeviceCodeLifespan implements rfc8628.DeviceCodeLifespanProvider.
func (c *Config) GetDeviceCodeLifespan(context.Context) time.Duration {
	if c.DeviceCodeLifespan <= 0 {
		return 10 * time.Minute
	}
	return c.DeviceCodeLifespan
}

// GetDevicePollingInterval implements rfc8628.DevicePollingIntervalProvider.
func (c *Config) GetDevicePollingInterval(context.Context) time.Duration {
	if c.DevicePollingInterval <= 0 {
		return 5 * time.Second
	}
	if c.DevicePollingInterval < time.Second {
		return time.Second // interval is reported in whole seconds (RFC 8628 §3.2)
	}
	return c.DevicePollingInterval.Round(time.Second)
}

// GetDeviceVerificationURI implements rfc8628.DeviceVerificationURIProvider.
func (c *Config) GetDeviceVerificationURI(context.Context) string { return c.DeviceVerificationURI }

// GetUserCodeFormat implements rfc8628.UserCodeFormatProvider.
func (c *Config) GetUserCodeFormat(context.Context) pending.UserCodeFormat {
	if c.UserCodeFormat.Length == 0 {
		return pending.UserCodeBase20
	}
	return c.UserCodeFormat
}

// GetUserCodeAttemptLimits implements rfc8628.UserCodeAttemptLimitsProvider.
func (c *Config) GetUserCodeAttemptLimits(context.Context) (perAddress, global int, window time.Duration) {
	perAddress, global, window = c.UserCodeAttemptsPerAddress, c.UserCodeAttemptsGlobal, c.UserCodeAttemptWindow
	if perAddress == 0 {
		perAddress = 20
	}
	if global == 0 {
		global = 1000
	}
	if window <= 0 {
		window = 15 * time.Minute
	}
	return perAddress, global, window
}

// GetTokenURLs is fosite's list of audiences a private_key_jwt client assertion may name. Besides the
// token endpoint it accepts the issuer and this module's endpoints, where clients authenticate too
// (CIBA Core §7.1 names the issuer, the token endpoint and the backchannel endpoint).
func (c *Config) GetTokenURLs(ctx context.Context) []string {
	urls := c.Config.GetTokenURLs(ctx)
	for _, u := range []string{c.Config.IDTokenIssuer, c.DeviceAuthorizationURL, c.OTP.ChallengeURL, c.CIBA.BackchannelURL} {
		if u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
