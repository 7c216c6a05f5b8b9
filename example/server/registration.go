package server

import (
	"context"
	"net/http"
	"os"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"

	"github.com/fosite-contrib/grants/compose"
)

// registrationPath is where the example serves dynamic client registration (RFC 7591).
const registrationPath = "/oauth2/register"

func init() {
	modules = append(modules, module{
		name: "registration",
		factories: func(s *Server) []fcompose.Factory {
			return []fcompose.Factory{func(config fosite.Configurator, storage, strategy interface{}) interface{} {
				cfg := config.(*compose.Config)
				cfg.Registration.URL = s.opts.Issuer + registrationPath
				// The initial access token: $GRANTS_REGISTRATION_TOKEN, else the admin token. DEMO: a real
				// deployment hands out one token per device batch and checks it with VerifyInitialAccessToken.
				token := os.Getenv("GRANTS_REGISTRATION_TOKEN")
				if token == "" {
					token = s.opts.AdminToken
				}
				cfg.Registration.InitialAccessTokens = []string{token}
				policy := *cfg.GetRegistrationPolicy(context.Background())
				policy.Scopes = demoScopes
				policy.AllowLoopbackHTTP = s.opts.Dev // DEMO: CIBA ping/push callbacks to http://127.0.0.1
				cfg.Registration.Policy = &policy
				return compose.RegistrationFactory(cfg, storage, strategy)
			}}
		},
		routes: func(s *Server, m *http.ServeMux) {
			if ep := s.provider.Registration; ep != nil {
				m.Handle(registrationPath, ep)
				m.Handle("GET "+registrationPath+"/{client_id}", ep) // RFC 7592 read
			}
		},
	})
}
