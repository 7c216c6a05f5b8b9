package registration

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/observe"
)

// Options configure dynamic client registration. The zero value of each field means its default.
type Options struct {
	// URL is the full URL of the registration endpoint, published as registration_endpoint. When set,
	// the endpoint also serves RFC 7592 reads at URL/<client_id> (see Endpoint.URL).
	URL string
	// Tokens checks initial access tokens (RFC 7591 §3). Required: NewStaticTokens for a fixed list.
	Tokens TokenVerifier
	// Policy is what clients may register; nil means DefaultPolicy().
	Policy *Policy
	// BadTokenLimits bound requests with a wrong or missing initial access token; each zero field takes
	// its value from DefaultBadTokenLimits, and -1 turns a limit off.
	BadTokenLimits pending.Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per registration and per refused request; nil discards.
	Logger *slog.Logger
	// Observer, when not nil, is told of every request the bad-token limits refuse (limiter
	// "registration-token").
	Observer observe.Limits
}

// DefaultBadTokenLimits bound wrong initial access tokens: 10 per client address and 1000 in all per 15
// minutes.
var DefaultBadTokenLimits = pending.Limits{PerAddress: 10, Global: 1000, Window: 15 * time.Minute}

// RegistrationStorage is what New needs of a store: clients and attempt counters.
type RegistrationStorage interface {
	Storage
	pending.AttemptStorage
}

// New builds the registration endpoint from fosite's configuration (its secret hasher stores client
// secrets, so that fosite can check them), the store and opts.
func New(config fosite.Configurator, store RegistrationStorage, opts Options) (*Endpoint, error) {
	if opts.Tokens == nil {
		return nil, errors.New("registration: Options.Tokens (a TokenVerifier) is required")
	}
	if opts.Policy == nil {
		opts.Policy = DefaultPolicy()
	}
	limits := opts.BadTokenLimits.Or(DefaultBadTokenLimits)
	return &Endpoint{
		Storage: store,
		Tokens:  opts.Tokens,
		Config:  policyConfig{GetSecretsHashingProvider: config, policy: opts.Policy},
		URL:     opts.URL,
		Limiter: &pending.Limiter{Storage: store, Scope: "registration-token", Limits: limits, Observer: opts.Observer},
		Now:     opts.Now,
		Logger:  opts.Logger,
	}, nil
}

// policyConfig is the endpoint's Config: fosite's secret hasher and a fixed policy.
type policyConfig struct {
	fosite.GetSecretsHashingProvider
	policy *Policy
}

func (c policyConfig) GetRegistrationPolicy(context.Context) *Policy { return c.policy }

// Metadata returns the endpoint's discovery metadata (RFC 8414 §2): registration_endpoint.
func (e *Endpoint) Metadata() map[string]any {
	if e.URL == "" {
		return map[string]any{}
	}
	return map[string]any{"registration_endpoint": e.URL}
}
