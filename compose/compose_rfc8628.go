package compose

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
)

func init() {
	wirers = append(wirers, func(p *Provider, config *Config, storage interface{}, h interface{}) {
		if th, ok := h.(*rfc8628.TokenHandler); ok {
			p.wireDevice(config, storage, th)
		}
	})
	metadataFuncs = append(metadataFuncs, func(p *Provider, m map[string]interface{}) {
		if p.DeviceAuthorization != nil && p.Config.DeviceAuthorizationURL != "" {
			m["device_authorization_endpoint"] = p.Config.DeviceAuthorizationURL // RFC 8628 §4
		}
	})
}

// DeviceLifespans are one client's device-grant lifetimes; zero means the default.
type DeviceLifespans struct {
	CodeLifespan time.Duration
	PickupWindow time.Duration
}

// DeviceAlertConfig configures the post-approval alert (rfc8628.Alerter).
type DeviceAlertConfig struct {
	// Sender sends alerts directly, unless Outbox is set.
	Sender notify.Sender
	// Outbox, when set, queues alerts in the approval's transaction for an outbox.Worker; Kick (e.g.
	// Worker.Kick) is called after the commit.
	Outbox     *outbox.Queue
	Kick       func()
	Recipients rfc8628.AlertRecipients
	// DeactivateURL is the absolute URL of the application's page that calls Alerter.Deactivate.
	DeactivateURL string
	// LinkLifetime is how long a deactivation link works; 0 means 7 days.
	LinkLifetime time.Duration
	// Render writes the message; nil uses rfc8628.DefaultAlertMessage.
	Render func(ctx context.Context, a rfc8628.Alert) (notify.Message, error)
}

// GetDevicePickupWindow implements rfc8628.DevicePickupWindowProvider.
func (c *Config) GetDevicePickupWindow(context.Context) time.Duration {
	return min(max(c.DevicePickupWindow, 0), rfc8628.MaxDeviceLifespan)
}

// GetDeviceClientLifespans implements rfc8628.DeviceClientLifespanProvider.
func (c *Config) GetDeviceClientLifespans(_ context.Context, clientID string) (lifespan, pickup time.Duration) {
	l := c.DeviceClientLifespans[clientID]
	return l.CodeLifespan, l.PickupWindow
}

// GetDeviceRepeatApprovalWindow implements rfc8628.DeviceRepeatApprovalWindowProvider.
func (c *Config) GetDeviceRepeatApprovalWindow(context.Context) time.Duration {
	if c.DeviceRepeatApprovalWindow <= 0 {
		return 24 * time.Hour
	}
	return c.DeviceRepeatApprovalWindow
}

// GetPrintedUserCodeKey implements rfc8628.PrintedUserCodeKeyProvider.
func (c *Config) GetPrintedUserCodeKey(_ context.Context, clientID string) []byte {
	return c.DevicePrintedCodeKeys[clientID]
}

var (
	_ rfc8628.DevicePickupWindowProvider         = (*Config)(nil)
	_ rfc8628.DeviceClientLifespanProvider       = (*Config)(nil)
	_ rfc8628.DeviceRepeatApprovalWindowProvider = (*Config)(nil)
	_ rfc8628.PrintedUserCodeKeyProvider         = (*Config)(nil)
)

// RFC8628DeviceFactory registers the device grant (RFC 8628): the token endpoint handler for
// urn:ietf:params:oauth:grant-type:device_code. With this package's Compose, the device authorization
// endpoint and the verification API are wired too (Provider.DeviceAuthorization, Provider.DeviceVerifier),
// and, when configured, the audit log (Config.DeviceAudit), the post-approval alert
// (Config.DeviceAlerts) and the staffed-kiosk API (Provider.DeviceKiosk).
//
// It has fosite's compose.Factory signature. config should be a *Config (a plain *fosite.Config gets
// this module's defaults); storage must implement rfc8628.TokenStorage (the memory and SQL stores of
// this module do); strategy must implement oauth2.AccessTokenStrategy and oauth2.RefreshTokenStrategy,
// and openid.OpenIDConnectTokenStrategy to issue ID tokens.
func RFC8628DeviceFactory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	cfg := ourConfig(config)
	st := mustImplement[rfc8628.TokenStorage](storage, "rfc8628.TokenStorage", "RFC8628DeviceFactory")
	h := &rfc8628.TokenHandler{
		Storage: st,
		Codes:   pending.NewCodes(cfg),
		Issuer:  newIssuer(cfg, st, strategy, "RFC8628DeviceFactory"),
		Config:  cfg,
		Now:     cfg.Now,
		Logger:  cfg.Logger,
		Audit:   cfg.DeviceAudit,
	}
	return h
}

func (p *Provider) wireDevice(config *Config, storage interface{}, th *rfc8628.TokenHandler) {
	attempts := mustImplement[pending.AttemptStorage](storage, "pending.AttemptStorage", "RFC8628DeviceFactory")
	if err := config.GetUserCodeFormat(context.Background()).Validate(); err != nil {
		panic("compose: " + err.Error())
	}
	per, global, window := config.GetUserCodeAttemptLimits(context.Background())
	p.DeviceAuthorization = &rfc8628.DeviceAuthorizationEndpoint{
		Clients: p.Fosite, Errors: p.Fosite, Storage: th.Storage, Codes: th.Codes,
		Config: config, Now: config.Now, Logger: config.Logger,
	}
	p.DeviceVerifier = &rfc8628.Verifier{
		Storage: th.Storage, Codes: th.Codes, Config: config, Now: config.Now,
		Limiter: &pending.Limiter{Storage: attempts, Scope: "device-user-code", PerKey: per, Global: global, Window: window},
		Audit:   config.DeviceAudit,
	}
	if a := config.DeviceAlerts; a != nil {
		p.DeviceVerifier.Alerter = &rfc8628.Alerter{
			Sender: a.Sender, Outbox: a.Outbox, Kick: a.Kick, Recipients: a.Recipients,
			Storage:       mustImplement[rfc8628.AlertStorage](storage, "rfc8628.AlertStorage", "RFC8628DeviceFactory (Config.DeviceAlerts)"),
			Config:        config,
			DeactivateURL: a.DeactivateURL, LinkLifetime: a.LinkLifetime, Render: a.Render,
			Audit: config.DeviceAudit, Now: config.Now,
		}
	}
	if config.KioskStaff != nil || config.KioskAccounts != nil {
		if config.KioskStaff == nil || config.KioskAccounts == nil {
			panic("compose: the kiosk API needs both Config.KioskStaff and Config.KioskAccounts")
		}
		_ = mustImplement[pending.ListingStorage](storage, "pending.ListingStorage", "RFC8628DeviceFactory (kiosk)")
	}
}

// DeviceKiosk returns the staffed-kiosk API (see rfc8628.Kiosk), or nil unless the device grant was
// composed with Config.KioskStaff and Config.KioskAccounts. newSession makes the session tokens are
// issued with for the proofed subject.
func (p *Provider) DeviceKiosk(newSession func(ctx context.Context, subject string) fosite.Session) *rfc8628.Kiosk {
	if p.DeviceVerifier == nil || p.Config.KioskStaff == nil || p.Config.KioskAccounts == nil {
		return nil
	}
	return &rfc8628.Kiosk{
		Verifier: p.DeviceVerifier, Staff: p.Config.KioskStaff, Accounts: p.Config.KioskAccounts,
		NewSession: newSession, Now: p.Config.Now,
	}
}

// DeviceAlerter returns the post-approval alerter (for the deactivation page), or nil unless
// Config.DeviceAlerts was set.
func (p *Provider) DeviceAlerter() *rfc8628.Alerter {
	if p.DeviceVerifier == nil {
		return nil
	}
	return p.DeviceVerifier.Alerter
}
