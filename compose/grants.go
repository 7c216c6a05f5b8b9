package compose

import (
	"context"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/outbox"
)

// DeviceGrant is the device authorization grant (package rfc8628), to compose: pass its Factory to
// fosite's compose.Compose or to Compose. Once the factory has run, the embedded *rfc8628.Grant holds
// the device authorization endpoint, the verification API, and the kiosk and alerts when configured.
type DeviceGrant struct {
	*rfc8628.Grant
	options rfc8628.Options
}

// NewDeviceGrant returns the device grant with opts, to compose.
func NewDeviceGrant(opts rfc8628.Options) *DeviceGrant { return &DeviceGrant{options: opts} }

// Factory has fosite's compose.Factory signature and works with any fosite.Configurator. storage must
// implement rfc8628.Storage (and rfc8628.KioskStorage for the kiosk and the alerts); strategy must
// implement oauth2.AccessTokenStrategy and oauth2.RefreshTokenStrategy, and
// openid.OpenIDConnectTokenStrategy to issue ID tokens.
func (d *DeviceGrant) Factory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	const name = "the device grant"
	tokens, err := TokenStrategies(strategy)
	mustNot(err, name)
	g, err := rfc8628.New(config, mustImplement[rfc8628.Storage](storage, "rfc8628.Storage", name), tokens, d.options)
	mustNot(err, name)
	d.Grant = g
	return g
}

// CIBAGrant is OpenID CIBA Core 1.0 (package ciba), to compose: pass its Factory to fosite's
// compose.Compose or to Compose. Once the factory has run, the embedded *ciba.Grant holds the
// backchannel endpoint, the decision API and the enrolment verifier.
type CIBAGrant struct {
	*ciba.Grant
	// Queue is the outbox queue ping and push callbacks go to, when the factory made one (see
	// NewCIBAGrant); nil otherwise.
	Queue *outbox.Queue

	options ciba.Options
}

// NewCIBAGrant returns CIBA with opts, to compose. Two defaults come from the factory's arguments:
// without opts.Outbox, when the store implements outbox.Storage, ping and push callbacks are queued
// there (CIBAGrant.Queue; run an outbox.Worker over the same store, with a Sealer made by
// outbox.NewSealer from the same global secret, and an outbox.Webhook as its deliverer); without
// opts.IDTokenHints, id_token_hint is verified with the ID token signing key when the strategy reveals
// it (fosite's CommonStrategy with a jwt.DefaultSigner).
func NewCIBAGrant(opts ciba.Options) *CIBAGrant { return &CIBAGrant{options: opts} }

// Factory has fosite's compose.Factory signature and works with any fosite.Configurator. storage must
// implement ciba.Storage; strategy must implement oauth2.AccessTokenStrategy,
// oauth2.RefreshTokenStrategy and openid.OpenIDConnectTokenStrategy (CIBA always issues ID tokens).
func (c *CIBAGrant) Factory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	const name = "CIBA"
	ctx := context.Background()
	tokens, err := TokenStrategies(strategy)
	mustNot(err, name)
	opts := c.options
	if opts.Outbox == nil {
		if obStore, ok := storage.(outbox.Storage); ok {
			secret, err := config.GetGlobalSecret(ctx)
			mustNot(err, name)
			rotated, err := config.GetRotatedGlobalSecrets(ctx)
			mustNot(err, name)
			sealer, err := outbox.NewSealer(secret, rotated...)
			mustNot(err, name)
			c.Queue = &outbox.Queue{Storage: obStore, Sealer: sealer, Now: opts.Now}
			opts.Outbox = OutboxCallbacks{Queue: c.Queue}
		}
	}
	if opts.IDTokenHints == nil {
		if key := signingKeyOf(strategy); key != nil {
			opts.IDTokenHints = &ciba.KeyIDTokenHintVerifier{Issuer: config.GetIDTokenIssuer(ctx), Key: key}
		}
	}
	g, err := ciba.New(config, mustImplement[ciba.Storage](storage, "ciba.Storage", name), tokens, opts)
	mustNot(err, name)
	c.Grant = g
	return g
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

// OTPGrant is the one-time-passcode grant (package otp), to compose: pass its Factory to fosite's
// compose.Compose or to Compose. Once the factory has run, the embedded *otp.Grant holds the challenge
// endpoint.
type OTPGrant struct {
	*otp.Grant
	options otp.Options
}

// NewOTPGrant returns the OTP grant with opts, to compose.
func NewOTPGrant(opts otp.Options) *OTPGrant { return &OTPGrant{options: opts} }

// Factory has fosite's compose.Factory signature and works with any fosite.Configurator. storage must
// implement otp.Storage; strategy must implement oauth2.AccessTokenStrategy and
// oauth2.RefreshTokenStrategy, and openid.OpenIDConnectTokenStrategy to issue ID tokens.
func (o *OTPGrant) Factory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	const name = "the OTP grant"
	tokens, err := TokenStrategies(strategy)
	mustNot(err, name)
	g, err := otp.New(config, mustImplement[otp.Storage](storage, "otp.Storage", name), tokens, o.options)
	mustNot(err, name)
	o.Grant = g
	return g
}

// ReciprocalGrant is Reciprocal OAuth for both parties (package reciprocal), to compose: pass its
// Factory to fosite's compose.Compose or to Compose, and its ScopeFactory after fosite's authorization
// code factories for the `reciprocal` response parameter (draft §2.1). Once the factory has run, the
// embedded *reciprocal.Grant holds party B's token store and party A's Issuer.
type ReciprocalGrant struct {
	*reciprocal.Grant
	options reciprocal.Options
}

// NewReciprocalGrant returns Reciprocal OAuth with opts, to compose.
func NewReciprocalGrant(opts reciprocal.Options) *ReciprocalGrant {
	return &ReciprocalGrant{options: opts}
}

// Factory has fosite's compose.Factory signature and works with any fosite.Configurator. storage must
// implement reciprocal.Storage (and reciprocal.TokenStorage unless Options.Receiver is set); strategy
// must implement oauth2.AccessTokenStrategy and oauth2.AuthorizeCodeStrategy.
func (r *ReciprocalGrant) Factory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	const name = "Reciprocal OAuth"
	s := reciprocal.Strategies{
		AccessToken:   mustImplement[oauth2.AccessTokenStrategy](strategy, "oauth2.AccessTokenStrategy", name),
		AuthorizeCode: mustImplement[oauth2.AuthorizeCodeStrategy](strategy, "oauth2.AuthorizeCodeStrategy", name),
	}
	g, err := reciprocal.New(config, mustImplement[reciprocal.Storage](storage, "reciprocal.Storage", name), s, r.options)
	mustNot(err, name)
	r.Grant = g
	return g
}

// ScopeFactory registers party B's `reciprocal` response parameter (the grant's ScopeHandler); compose
// it after Factory and after fosite's authorization code factories.
func (r *ReciprocalGrant) ScopeFactory(fosite.Configurator, interface{}, interface{}) interface{} {
	if r.Grant == nil {
		panic("compose: compose ReciprocalGrant.Factory before ReciprocalGrant.ScopeFactory")
	}
	return r.Scope
}

// Registration is dynamic client registration (RFC 7591, package registration), to compose: pass its
// Factory to fosite's compose.Compose or to Compose (it serves no grant). Once the factory has run,
// Endpoint is the registration endpoint.
type Registration struct {
	*registration.Endpoint
	options registration.Options
}

// NewRegistration returns client registration with opts, to compose. Without opts.Policy, clients may
// register with DefaultRegistrationPolicy.
func NewRegistration(opts registration.Options) *Registration {
	return &Registration{options: opts}
}

// Factory has fosite's compose.Factory signature and works with any fosite.Configurator. storage must
// implement registration.RegistrationStorage.
func (r *Registration) Factory(config fosite.Configurator, storage, _ interface{}) interface{} {
	const name = "client registration"
	opts := r.options
	if opts.Policy == nil {
		opts.Policy = DefaultRegistrationPolicy()
	}
	e, err := registration.New(config, mustImplement[registration.RegistrationStorage](storage, "registration.RegistrationStorage", name), opts)
	mustNot(err, name)
	r.Endpoint = e
	return e
}

// DefaultRegistrationPolicy is registration.DefaultPolicy() with the extension fields of this module's
// grants: the device lifetimes (device_code_lifespan, device_pickup_window: 1 minute to 7 days) and
// CIBA's backchannel_enrollment_fallback (a boolean, CIBA clients only).
func DefaultRegistrationPolicy() *registration.Policy {
	p := registration.DefaultPolicy()
	p.Extensions = map[string]registration.ExtensionValidator{
		registration.FieldDeviceCodeLifespan: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
		registration.FieldDevicePickupWindow: registration.DurationSeconds(time.Minute, 7*24*time.Hour),
		ciba.MetaEnrollmentFallback:          registration.Boolean,
	}
	return p
}
