package compose

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/notify"
)

func init() {
	wirers = append(wirers, func(p *Provider, config *Config, storage interface{}, h interface{}) {
		if th, ok := h.(*otp.TokenHandler); ok {
			p.wireOTP(config, th)
		}
	})
	metadataFuncs = append(metadataFuncs, func(p *Provider, m map[string]interface{}) {
		if p.OTP != nil && p.Config.OTP.ChallengeURL != "" {
			m[otp.ChallengeEndpointMetadata] = p.Config.OTP.ChallengeURL
		}
	})
}

// OTP holds the endpoints of the one-time-passcode grant.
type OTP struct {
	// Challenge is the challenge endpoint (identify, send); mount it at Config.OTP.ChallengeURL.
	Challenge *otp.ChallengeEndpoint
	// Token is the token endpoint handler, already registered with fosite.
	Token *otp.TokenHandler
}

// OTPConfig configures the OTP grant (package handler/otp). Zero values mean the defaults.
type OTPConfig struct {
	// ChallengeURL is the full URL of the challenge endpoint, published in discovery as
	// otp_challenge_endpoint and accepted as the audience of a private_key_jwt client assertion sent there.
	ChallengeURL string
	// GrantType is the grant type URI of the token request. Default otp.DefaultGrantType.
	GrantType fosite.GrantType
	// CodeLength is the number of digits of a code, 6 to 8. Default 6.
	CodeLength int
	// Lifespan is how long a challenge and its code live. Default 5 minutes.
	Lifespan time.Duration
	// MaxAttempts is how many codes may be tried on one challenge. Default 5.
	MaxAttempts int
	// ResendInterval is the minimum time between two sends on one challenge. Default 30 seconds.
	ResendInterval time.Duration
	// Quotas bound sends; each zero field takes its value from otp.DefaultQuotas. Set a field to -1 to
	// disable that limit.
	Quotas otp.Quotas

	// Directory resolves login hints to accounts. Required.
	Directory otp.Directory
	// Sender delivers codes. Required.
	Sender notify.Sender
	// Mask masks destinations; nil means otp.DefaultMask.
	Mask otp.MaskPolicy
	// Templates renders messages; nil means otp.NewDefaultTemplates().
	Templates *notify.Templates
	// Scopes describes scopes in messages; nil shows scope names.
	Scopes otp.ScopeDescriber
	// ClientName names the client in messages; nil uses the client's name or ID.
	ClientName otp.ClientNamer
	// DecoyChannels are the channel types decoy challenges offer; nil means SMS and e-mail.
	DecoyChannels []otp.ChannelType
	// NewSession makes the session of issued tokens; nil means otp.DefaultSession(IDTokenIssuer).
	NewSession otp.SessionFactory
	// Audit records sends, redemptions and lockouts; nil records nothing.
	Audit audit.Sink
}

var _ otp.Config = (*Config)(nil)

// GetOTPGrantType implements otp.GrantTypeProvider.
func (c *Config) GetOTPGrantType(context.Context) fosite.GrantType {
	if c.OTP.GrantType == "" {
		return otp.DefaultGrantType
	}
	return c.OTP.GrantType
}

// GetOTPCodeLength implements otp.CodeLengthProvider.
func (c *Config) GetOTPCodeLength(context.Context) int {
	if c.OTP.CodeLength == 0 {
		return 6
	}
	return c.OTP.CodeLength
}

// GetOTPLifespan implements otp.LifespanProvider.
func (c *Config) GetOTPLifespan(context.Context) time.Duration {
	if c.OTP.Lifespan <= 0 {
		return 5 * time.Minute
	}
	return c.OTP.Lifespan
}

// GetOTPMaxAttempts implements otp.MaxAttemptsProvider.
func (c *Config) GetOTPMaxAttempts(context.Context) int {
	if c.OTP.MaxAttempts <= 0 {
		return 5
	}
	return c.OTP.MaxAttempts
}

// GetOTPResendInterval implements otp.ResendIntervalProvider.
func (c *Config) GetOTPResendInterval(context.Context) time.Duration {
	if c.OTP.ResendInterval <= 0 {
		return 30 * time.Second
	}
	return c.OTP.ResendInterval.Round(time.Second)
}

// GetOTPQuotas implements otp.QuotasProvider.
func (c *Config) GetOTPQuotas(context.Context) otp.Quotas {
	q, d := c.OTP.Quotas, otp.DefaultQuotas
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	q.PerIdentifier = pick(q.PerIdentifier, d.PerIdentifier)
	q.PerClient = pick(q.PerClient, d.PerClient)
	q.PerAddress = pick(q.PerAddress, d.PerAddress)
	q.ChallengesPerAddress = pick(q.ChallengesPerAddress, d.ChallengesPerAddress)
	if q.Window <= 0 {
		q.Window = d.Window
	}
	return q
}

// OTPFactory registers the OTP grant (package handler/otp): the token endpoint handler for
// Config.OTP.GrantType. With this package's Compose, the challenge endpoint is wired too
// (Provider.OTP.Challenge). Config.OTP.Directory and Config.OTP.Sender are required.
//
// It has fosite's compose.Factory signature. config should be a *Config; storage must implement
// otp.TokenStorage (the memory and SQL stores of this module do); strategy must implement
// oauth2.AccessTokenStrategy and oauth2.RefreshTokenStrategy, and openid.OpenIDConnectTokenStrategy to
// issue ID tokens.
func OTPFactory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	cfg := ourConfig(config)
	st := mustImplement[otp.TokenStorage](storage, "otp.TokenStorage", "OTPFactory")
	if n := cfg.GetOTPCodeLength(context.Background()); n < 6 || n > 8 {
		panic(fmt.Sprintf("compose: OTPFactory: the code length must be 6 to 8 digits, got %d", n))
	}
	newSession := cfg.OTP.NewSession
	if newSession == nil {
		newSession = otp.DefaultSession(cfg.Config.IDTokenIssuer)
	}
	return &otp.TokenHandler{
		Storage:    st,
		Codes:      pending.NewCodes(cfg),
		Issuer:     newIssuer(cfg, st, strategy, "OTPFactory"),
		Config:     cfg,
		NewSession: newSession,
		Audit:      cfg.OTP.Audit,
		Now:        cfg.Now,
		Logger:     cfg.Logger,
	}
}

func (p *Provider) wireOTP(config *Config, th *otp.TokenHandler) {
	o := config.OTP
	if o.Directory == nil {
		panic("compose: OTPFactory needs Config.OTP.Directory")
	}
	if o.Sender == nil {
		panic("compose: OTPFactory needs Config.OTP.Sender")
	}
	p.OTP = &OTP{
		Token: th,
		Challenge: &otp.ChallengeEndpoint{
			Clients: p.Fosite, Errors: p.Fosite, Storage: th.Storage, Codes: th.Codes, Config: config,
			Directory: o.Directory, Sender: o.Sender, Mask: o.Mask, Templates: o.Templates, Scopes: o.Scopes,
			ClientName: o.ClientName, DecoyChannels: o.DecoyChannels, Audit: o.Audit,
			Now: config.Now, Logger: config.Logger,
		},
	}
}
