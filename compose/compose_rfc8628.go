package compose

import (
	"context"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
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

// RFC8628DeviceFactory registers the device grant (RFC 8628): the token endpoint handler for
// urn:ietf:params:oauth:grant-type:device_code. With this package's Compose, the device authorization
// endpoint and the verification API are wired too (Provider.DeviceAuthorization, Provider.DeviceVerifier).
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
	}
}
