package compose

import (
	"context"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/registration"
)

func init() {
	wirers = append(wirers, func(p *Provider, _ *Config, _ interface{}, h interface{}) {
		if ep, ok := h.(*registration.Endpoint); ok {
			p.Registration = ep
		}
	})
	metadataFuncs = append(metadataFuncs, func(p *Provider, m map[string]interface{}) {
		if p.Registration != nil && p.Config.Registration.URL != "" {
			m["registration_endpoint"] = p.Config.Registration.URL // RFC 8414 §2
		}
	})
}

// RegistrationConfig configures dynamic client registration (RFC 7591). The zero value of each field
// means its default.
type RegistrationConfig struct {
	// URL is the full URL of the registration endpoint, published as registration_endpoint. When set,
	// the endpoint also serves RFC 7592 reads at URL/<client_id> (see registration.Endpoint.URL).
	URL string
	// InitialAccessTokens are the initial access tokens (RFC 7591 §3) that may register clients.
	InitialAccessTokens []string
	// VerifyInitialAccessToken, when set, checks initial access tokens instead of InitialAccessTokens
	// (see registration.TokenVerifier).
	VerifyInitialAccessToken func(ctx context.Context, token string) error
	// Policy is what clients may register; nil means registration.DefaultPolicy() with these extension
	// fields: the device lifetimes (device_code_lifespan, device_pickup_window: 1 minute to 7 days) and
	// CIBA's backchannel_enrollment_fallback (a boolean, CIBA clients only).
	Policy *registration.Policy
	// BadTokensPerAddress bounds requests with a wrong initial access token per client address per
	// window. Default 10.
	BadTokensPerAddress int
	// BadTokensGlobal bounds them for everyone. Default 1000.
	BadTokensGlobal int
	// BadTokenWindow is the window of both limits. Default 15 minutes.
	BadTokenWindow time.Duration
}

var _ registration.Config = (*Config)(nil)

// GetRegistrationPolicy implements registration.PolicyProvider.
func (c *Config) GetRegistrationPolicy(context.Context) *registration.Policy {
	if c.Registration.Policy != nil {
		return c.Registration.Policy
	}
	return defaultRegistrationPolicy
}

var defaultRegistrationPolicy = func() *registration.Policy {
	p := registration.DefaultPolicy()
	p.Extensions = map[string]registration.ExtensionValidator{
		registration.FieldDeviceCodeLifespan: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
		registration.FieldDevicePickupWindow: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
		ciba.MetaEnrollmentFallback:          registration.Boolean,
	}
	return p
}()

// GetRegistrationAttemptLimits returns the bad-token limits per address and in all, and their window.
func (c *Config) GetRegistrationAttemptLimits(context.Context) (perAddress, global int, window time.Duration) {
	perAddress, global, window = c.Registration.BadTokensPerAddress, c.Registration.BadTokensGlobal, c.Registration.BadTokenWindow
	if perAddress == 0 {
		perAddress = 10
	}
	if global == 0 {
		global = 1000
	}
	if window <= 0 {
		window = 15 * time.Minute
	}
	return perAddress, global, window
}

// RegistrationFactory registers the client registration endpoint (RFC 7591). It serves no grant: with
// this package's Compose it sets Provider.Registration and publishes registration_endpoint when
// Config.Registration.URL is set.
//
// It has fosite's compose.Factory signature. config should be a *Config; storage must implement
// registration.Storage (CreateClient) and pending.AttemptStorage (the memory and SQL stores of this
// module do).
func RegistrationFactory(config fosite.Configurator, storage, _ interface{}) interface{} {
	return NewRegistrationEndpoint(ourConfig(config), storage)
}

// NewRegistrationEndpoint builds the client registration endpoint from config.Registration, for use
// without Compose. It panics when storage lacks what the endpoint needs.
func NewRegistrationEndpoint(config *Config, storage interface{}) *registration.Endpoint {
	st := mustImplement[registration.Storage](storage, "registration.Storage", "RegistrationFactory")
	attempts := mustImplement[pending.AttemptStorage](storage, "pending.AttemptStorage", "RegistrationFactory")
	var tokens registration.TokenVerifier = registration.NewStaticTokens(config.Registration.InitialAccessTokens...)
	if f := config.Registration.VerifyInitialAccessToken; f != nil {
		tokens = registration.TokenVerifierFunc(f)
	}
	per, global, window := config.GetRegistrationAttemptLimits(context.Background())
	return &registration.Endpoint{
		Storage: st,
		Tokens:  tokens,
		Config:  config,
		URL:     config.Registration.URL,
		Limiter: &pending.Limiter{Storage: attempts, Scope: "registration-token", PerKey: per, Global: global, Window: window},
		Now:     config.Now,
		Logger:  config.Logger,
	}
}
