package compose

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/outbox"
)

func init() {
	wirers = append(wirers, func(p *Provider, config *Config, storage interface{}, h interface{}) {
		if ch, ok := h.(*cibaHandler); ok {
			p.wireCIBA(config, storage, ch)
		}
	})
	metadataFuncs = append(metadataFuncs, func(p *Provider, m map[string]interface{}) {
		if p.CIBA == nil {
			return
		}
		ctx := context.Background()
		if u := p.Config.CIBA.BackchannelURL; u != "" {
			m["backchannel_authentication_endpoint"] = u // CIBA Core §4
		}
		modes := []string{string(ciba.ModePoll)}
		if p.CIBA.Outbox != nil {
			modes = append(modes, string(ciba.ModePing), string(ciba.ModePush))
		}
		m["backchannel_token_delivery_modes_supported"] = modes
		if algs := p.Config.GetCIBARequestSigningAlgs(ctx); len(algs) > 0 {
			m["backchannel_authentication_request_signing_alg_values_supported"] = algs
		}
		m["backchannel_user_code_parameter_supported"] = p.Config.CIBA.UserCodes != nil
	})
}

// CIBA holds the parts of OpenID CIBA Core 1.0 that fosite has no place for.
type CIBA struct {
	// Backchannel is the backchannel authentication endpoint (CIBA Core §7); mount it at
	// Config.CIBA.BackchannelURL.
	Backchannel *ciba.BackchannelEndpoint
	// Token is the token endpoint handler (CIBA Core §10.1), already registered with fosite.
	Token *ciba.TokenHandler
	// Decider is the decision API of the authentication-device side (CIBA Core §8). Set Decider.Kick to
	// your outbox Worker's Kick to send callbacks at once.
	Decider *ciba.Decider
	// Enrollment is the verification API of the enrolment fallback; mount a page using it at
	// Config.CIBA.VerificationURI.
	Enrollment *ciba.EnrollmentVerifier
	// Outbox is the queue ping and push callbacks go to; nil when no outbox store is available (ping
	// and push are then not offered). Run an outbox.Worker over the same store, with a Sealer made by
	// outbox.NewSealer from the same global secret, and an outbox.Webhook as its deliverer.
	Outbox *outbox.Queue
}

// CIBAConfig configures OpenID CIBA Core 1.0 (package handler/ciba). Zero values mean the defaults.
type CIBAConfig struct {
	// BackchannelURL is the full URL of the backchannel authentication endpoint, published in discovery
	// and accepted as the audience of a private_key_jwt client assertion sent there (CIBA Core §7.1).
	BackchannelURL string
	// VerificationURI is the page of the enrolment fallback (user_code entry). Required for clients that
	// opt in to the fallback.
	VerificationURI string
	// RequestLifespan is how long a request lives without requested_expiry. Default 10 minutes.
	RequestLifespan time.Duration
	// MaxRequestLifespan bounds requested_expiry. Default 1 hour.
	MaxRequestLifespan time.Duration
	// PollingInterval is the minimum time between polls (CIBA Core §7.3). Default 5 seconds.
	PollingInterval time.Duration
	// BindingMessageMaxLength is the longest binding_message accepted, in characters. Default 64.
	BindingMessageMaxLength int
	// RequestSigningAlgs are the JWS algorithms accepted for signed requests (asymmetric only). Default
	// ciba.DefaultRequestSigningAlgs (PS256, ES256).
	RequestSigningAlgs []string
	// UserCodeFormat is the format of the fallback's user codes. Default pending.UserCodeBase20.
	UserCodeFormat pending.UserCodeFormat

	// Resolver turns hints into users. Required.
	Resolver ciba.HintResolver
	// Devices reaches users on their authentication device. Required.
	Devices ciba.AuthenticationDevice
	// Enroller links devices during the enrolment fallback; nil disables the fallback's approval.
	Enroller ciba.DeviceEnroller
	// UserCodes checks user_code (CIBA Core §7.1.2); nil: backchannel_user_code_parameter unsupported.
	UserCodes ciba.UserCodeChecker
	// IDTokenHints verifies id_token_hint; nil means a ciba.KeyIDTokenHintVerifier on the ID token
	// signing key when the strategy reveals it (fosite's CommonStrategy with a jwt.DefaultSigner).
	IDTokenHints ciba.IDTokenHintVerifier
	// Outbox is the outbox store ping and push callbacks are queued in; nil means the storage given to
	// Compose, when it implements outbox.Storage. It must be the same store as the grants' for the
	// callback to be queued in the decision's transaction.
	Outbox outbox.Storage
	// AllowLoopbackHTTP accepts http:// notification endpoints on loopback addresses (development only).
	AllowLoopbackHTTP bool
}

var _ ciba.Config = (*Config)(nil)

// GetCIBARequestLifespan implements ciba.RequestLifespanProvider.
func (c *Config) GetCIBARequestLifespan(context.Context) (def, max time.Duration) {
	def, max = c.CIBA.RequestLifespan, c.CIBA.MaxRequestLifespan
	if def <= 0 {
		def = 10 * time.Minute
	}
	if max <= 0 {
		max = time.Hour
	}
	if def > max {
		def = max
	}
	return def.Round(time.Second), max.Round(time.Second)
}

// GetCIBAPollingInterval implements ciba.PollingIntervalProvider.
func (c *Config) GetCIBAPollingInterval(context.Context) time.Duration {
	if c.CIBA.PollingInterval <= 0 {
		return 5 * time.Second
	}
	return c.CIBA.PollingInterval.Round(time.Second)
}

// GetCIBABindingMessageMaxLength implements ciba.BindingMessageLimitProvider.
func (c *Config) GetCIBABindingMessageMaxLength(context.Context) int {
	if c.CIBA.BindingMessageMaxLength <= 0 {
		return 64
	}
	return c.CIBA.BindingMessageMaxLength
}

// GetCIBARequestSigningAlgs implements ciba.RequestSigningAlgsProvider: the configured algorithms, minus
// any that is not asymmetric.
func (c *Config) GetCIBARequestSigningAlgs(context.Context) []string {
	if len(c.CIBA.RequestSigningAlgs) == 0 {
		return ciba.DefaultRequestSigningAlgs
	}
	out := []string{}
	for _, a := range c.CIBA.RequestSigningAlgs {
		if ciba.IsAsymmetricAlg(a) {
			out = append(out, a)
		}
	}
	return out
}

// GetCIBAVerificationURI implements ciba.EnrollmentProvider.
func (c *Config) GetCIBAVerificationURI(context.Context) string { return c.CIBA.VerificationURI }

// GetCIBAUserCodeFormat implements ciba.EnrollmentProvider.
func (c *Config) GetCIBAUserCodeFormat(context.Context) pending.UserCodeFormat {
	if c.CIBA.UserCodeFormat.Length == 0 {
		return pending.UserCodeBase20
	}
	return c.CIBA.UserCodeFormat
}

// GetCIBAIssuer implements ciba.IssuerProvider: the ID token issuer.
func (c *Config) GetCIBAIssuer(context.Context) string { return c.Config.IDTokenIssuer }

// cibaHandler is the CIBA token handler plus what the wirer needs from the factory's arguments.
type cibaHandler struct {
	*ciba.TokenHandler
	hints ciba.IDTokenHintVerifier
}

// CIBAFactory registers OpenID CIBA Core 1.0: the token endpoint handler for
// urn:openid:params:grant-type:ciba. With this package's Compose, the backchannel authentication
// endpoint, the decision API and the enrolment verifier are wired too (Provider.CIBA), from
// Config.CIBA; Compose panics when Config.CIBA.Resolver or Config.CIBA.Devices is missing.
//
// It has fosite's compose.Factory signature. config should be a *Config; storage must implement
// ciba.Storage, pending.AttemptStorage and fosite.ClientManager (the memory and SQL stores of this
// module do), and outbox.Storage for ping and push unless Config.CIBA.Outbox is set; strategy must
// implement oauth2.AccessTokenStrategy, oauth2.RefreshTokenStrategy and
// openid.OpenIDConnectTokenStrategy (CIBA always issues ID tokens).
func CIBAFactory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	cfg := ourConfig(config)
	st := mustImplement[ciba.Storage](storage, "ciba.Storage", "CIBAFactory")
	issuer := newIssuer(cfg, st, strategy, "CIBAFactory")
	if issuer.IDTokenStrategy == nil {
		panic(fmt.Sprintf("compose: CIBAFactory needs a strategy implementing openid.OpenIDConnectTokenStrategy, got %T", strategy))
	}
	h := &ciba.TokenHandler{
		Storage: st,
		Codes:   pending.NewCodes(cfg),
		Issuer:  issuer,
		Config:  cfg,
		Now:     cfg.Now,
		Logger:  cfg.Logger,
	}
	hints := cfg.CIBA.IDTokenHints
	if hints == nil {
		if key := signingKeyOf(strategy); key != nil {
			hints = &ciba.KeyIDTokenHintVerifier{Issuer: cfg.Config.IDTokenIssuer, Key: key}
		}
	}
	return &cibaHandler{TokenHandler: h, hints: hints}
}

// signingKeyOf finds the ID token signing key getter in fosite's usual strategies.
func signingKeyOf(strategy interface{}) jwt.GetPrivateKeyFunc {
	var signer jwt.Signer
	switch s := strategy.(type) {
	case *fcompose.CommonStrategy:
		if ds, ok := s.OpenIDConnectTokenStrategy.(*openid.DefaultStrategy); ok {
			signer = ds.Signer
		} else {
			signer = s.Signer
		}
	case *openid.DefaultStrategy:
		signer = s.Signer
	}
	if ds, ok := signer.(*jwt.DefaultSigner); ok && ds.GetPrivateKey != nil {
		return ds.GetPrivateKey
	}
	return nil
}

func (p *Provider) wireCIBA(config *Config, storage interface{}, h *cibaHandler) {
	const factory = "CIBAFactory"
	ctx := context.Background()
	if config.CIBA.Resolver == nil {
		panic("compose: CIBAFactory needs Config.CIBA.Resolver (a ciba.HintResolver)")
	}
	if config.CIBA.Devices == nil {
		panic("compose: CIBAFactory needs Config.CIBA.Devices (a ciba.AuthenticationDevice)")
	}
	if err := config.GetCIBAUserCodeFormat(ctx).Validate(); err != nil {
		panic("compose: " + err.Error())
	}
	attempts := mustImplement[pending.AttemptStorage](storage, "pending.AttemptStorage", factory)
	jtis := mustImplement[ciba.JTIStorage](storage, "fosite.ClientManager (client assertion JWT IDs)", factory)
	sealer := &ciba.Sealer{Config: config}

	var queue *outbox.Queue
	obStore := config.CIBA.Outbox
	if obStore == nil {
		obStore, _ = storage.(outbox.Storage)
	}
	if obStore != nil {
		secret, err := config.GetGlobalSecret(ctx)
		if err != nil {
			panic("compose: CIBAFactory: " + err.Error())
		}
		rotated, err := config.GetRotatedGlobalSecrets(ctx)
		if err != nil {
			panic("compose: CIBAFactory: " + err.Error())
		}
		obSealer, err := outbox.NewSealer(secret, rotated...)
		if err != nil {
			panic("compose: CIBAFactory: " + err.Error())
		}
		queue = &outbox.Queue{Storage: obStore, Sealer: obSealer, Now: config.Now}
	}

	decider := &ciba.Decider{
		Storage: h.Storage, Codes: h.Codes, Issuer: h.Issuer, Sealer: sealer,
		Now: config.Now, Logger: config.Logger,
	}
	if queue != nil {
		decider.Outbox = OutboxCallbacks{Queue: queue}
	}
	per, global, window := config.GetUserCodeAttemptLimits(ctx)
	p.CIBA = &CIBA{
		Backchannel: &ciba.BackchannelEndpoint{
			Clients: p.Fosite, Storage: h.Storage, Codes: h.Codes, Sealer: sealer, Config: config, JTIs: jtis,
			Resolver: config.CIBA.Resolver, Devices: config.CIBA.Devices, IDTokenHints: h.hints,
			UserCodes: config.CIBA.UserCodes, AllowLoopbackHTTP: config.CIBA.AllowLoopbackHTTP,
			PollOnly: queue == nil,
			Now:      config.Now, Logger: config.Logger,
		},
		Token:   h.TokenHandler,
		Decider: decider,
		Enrollment: &ciba.EnrollmentVerifier{
			Decider: decider, Enroller: config.CIBA.Enroller, Config: config, Now: config.Now,
			Limiter: &pending.Limiter{Storage: attempts, Scope: "ciba-user-code", PerKey: per, Global: global, Window: window},
		},
		Outbox: queue,
	}
}

// OutboxCallbacks adapts an outbox.Queue to ciba.Outbox: each callback becomes a JSON webhook with the
// client_notification_token as its Bearer credential (CIBA Core §10.2, §10.3).
type OutboxCallbacks struct {
	Queue *outbox.Queue
}

var _ ciba.Outbox = OutboxCallbacks{}

// Enqueue implements ciba.Outbox.
func (o OutboxCallbacks) Enqueue(ctx context.Context, c ciba.Callback) error {
	return o.Queue.Enqueue(ctx, outbox.WebhookMessage(c.ID, string(c.Kind), c.Target, c.Token, c.Body))
}
