package server

import (
	"net/http"
	"os"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/registration"
)

// registrationPath is where the example serves dynamic client registration (RFC 7591).
const registrationPath = "/oauth2/register"

// registrationOptions configure dynamic client registration.
func (s *Server) registrationOptions() registration.Options {
	// The initial access token: $GRANTS_REGISTRATION_TOKEN, else the admin token. DEMO: a real
	// deployment hands out one token per device batch and checks it with a TokenVerifier.
	token := os.Getenv("GRANTS_REGISTRATION_TOKEN")
	if token == "" {
		token = s.opts.AdminToken
	}
	policy := compose.DefaultRegistrationPolicy()
	policy.Scopes = demoScopes
	policy.AllowLoopbackHTTP = s.opts.Dev // DEMO: CIBA ping/push callbacks to http://127.0.0.1
	// CIBA user codes are checked (ciba.Options.UserCodes), so clients may register for them.
	policy.BackchannelUserCodeParameter = s.ciba.userCodes != nil
	return registration.Options{
		URL:    s.opts.Issuer + registrationPath,
		Tokens: registration.NewStaticTokens(token),
		Policy: policy,
		Now:    s.opts.Now,
		Logger: s.log,
	}
}

func (s *Server) registrationRoutes(m *http.ServeMux) {
	m.Handle(registrationPath, s.registration)
	m.Handle("GET "+registrationPath+"/{client_id}", s.registration) // RFC 7592 read
}
