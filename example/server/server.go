// Package server is the bundled example authorization server: fosite composed with this module's
// grants, demo users and clients, the pages a person uses, and an admin API. `go run ./example` runs it;
// the integration tests run the same router, so the example cannot rot.
//
// Demo shortcuts are labelled DEMO in the code: fixed users and passwords, clients with known secrets,
// an in-memory or single-file store, and keys generated at start.
//
// # Sign-in
//
// People sign in at /login. Sessions live in the store (package signin): the cookie holds a random ID
// and the store its hash, so signing out ends a session on every instance and a restart ends none; a
// session lasts 12 hours. Every form that changes something carries a CSRF token (the sign-in form's is
// bound to a pre-session cookie), and the page to go back to after sign-in must be a path of this
// server (signin.ReturnPath). Sign-in failures are limited (Options.SignIn; defaults below), each per
// 15-minute window that starts with its first attempt:
//
//   - 50 per address (an IPv4 address or an IPv6 /64), from browsers not known to the account tried;
//   - 10 per account name, existing or not, from browsers not known to it;
//   - 10 per known browser: a browser that signed in to the account in the last 30 days holds a signed
//     cookie that exempts it, for that account, from the two limits above, so that nobody can lock the
//     owner out of their own browser.
//
// Attempts are counted before the password is compared (a success gives its count back). A refused
// attempt answers 429 with Retry-After and the time to try again, the same for names that are no
// account.
package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/fosite-contrib/grants/clientauth"
	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc7009"
	"github.com/fosite-contrib/grants/handler/rfc7662"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/signin"
	"github.com/fosite-contrib/grants/storage/memory"
)

// Options configure the example server.
type Options struct {
	// Issuer is the server's public base URL, e.g. http://127.0.0.1:8080 (no trailing slash).
	Issuer string
	// AdminToken guards /admin/*. Required.
	AdminToken string
	// Store is the storage; nil means a new in-memory store.
	Store Store
	// GlobalSecret is the HMAC secret of tokens and codes (at least 32 bytes); nil means a random one.
	// Tokens survive a restart only if it does.
	GlobalSecret []byte
	// SigningKey signs ID tokens; nil means a new RSA key.
	SigningKey *rsa.PrivateKey
	// DevicePollingInterval overrides the device grant's polling interval (tests use 1s).
	DevicePollingInterval time.Duration
	// Now is the clock of the grants; nil means time.Now.
	Now func() time.Time
	// Logger receives the server's log; nil discards.
	Logger *slog.Logger
	// Sender delivers e-mail and SMS (alerts, OTP codes, CIBA links); nil means the dev outbox.
	Sender notify.Sender
	// Dev turns on development conveniences: the outbox page at /dev/outbox, and outbound calls
	// (jwks_uri, CIBA callbacks, webhooks) and registered URLs on loopback addresses. DEMO only.
	Dev bool
	// SignIn sets the sign-in page's attempt limits (see SignInOptions for the defaults).
	SignIn SignInOptions

	// Per-grant options, each defined in that grant's file.
	DPoP       DPoPOptions
	CIBA       CIBAOptions
	OTP        OTPOptions
	Reciprocal ReciprocalOptions
	Kiosk      KioskOptions
	// Policy sets the cross-device security policies (RFC 10027) of the device grant, CIBA and OTP.
	Policy PolicyOptions
}

// Store is what the example needs of a store: everything fosite and the device grant use, plus client
// registration for the demo data.
type Store interface {
	fosite.Storage
	pending.Storage
	pending.AttemptStorage
	signin.Storage
	SetClient(ctx context.Context, c fosite.Client) error
}

// Server is the example authorization server.
type Server struct {
	opts     Options
	fosite   *fosite.Config
	provider *compose.Provider
	store    Store
	key      *rsa.PrivateKey
	keyID    string
	cookies  *cookieJar
	mux      *http.ServeMux
	log      *slog.Logger
	// sender delivers messages; outbox is the dev outbox when Options.Sender was nil.
	sender notify.Sender
	outbox *notify.Outbox

	// The composed grants of this module, and DPoP (sender-constrained tokens for all of them).
	dpop            *compose.DPoP
	deviceGrant     *compose.DeviceGrant
	cibaGrant       *compose.CIBAGrant
	otpGrant        *compose.OTPGrant
	reciprocalOAuth *compose.ReciprocalGrant // nil without a partner
	registration    *compose.Registration

	// The durable outbox of ping and push callbacks and device alerts, and its worker; nil when the
	// store keeps no outbox.
	queue  *outbox.Queue
	worker *outbox.Worker
	// events announces flagged grants to security event receivers; nil without receivers.
	events pending.SecurityEvents

	// Per-grant state, each defined in that grant's file.
	ciba       cibaState
	reciprocal reciprocalState
	kiosk      kioskState
}

// New builds the server, registers the demo clients (idempotently) and returns it.
func New(ctx context.Context, opts Options) (*Server, error) {
	opts.Issuer = strings.TrimRight(opts.Issuer, "/")
	if _, err := url.Parse(opts.Issuer); err != nil || opts.Issuer == "" {
		return nil, fmt.Errorf("example: invalid issuer %q", opts.Issuer)
	}
	if opts.AdminToken == "" {
		return nil, errors.New("example: an admin token is required")
	}
	if opts.Store == nil {
		opts.Store = memory.New() // DEMO: nothing survives a restart
	}
	if opts.GlobalSecret == nil {
		opts.GlobalSecret = make([]byte, 32)
		if _, err := rand.Read(opts.GlobalSecret); err != nil {
			return nil, err
		}
	}
	if opts.SigningKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		opts.SigningKey = k
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, store: opts.Store, key: opts.SigningKey, log: log, mux: http.NewServeMux(), sender: opts.Sender}
	if s.sender == nil {
		s.outbox = notify.NewOutbox(100) // DEMO: messages are kept in memory and shown at /dev/outbox
		s.sender = s.outbox
	}
	kid := sha256.Sum256(opts.SigningKey.PublicKey.N.Bytes())
	s.keyID = hex.EncodeToString(kid[:8])
	cj, err := newCookieJar(opts.GlobalSecret, strings.HasPrefix(opts.Issuer, "https://"), opts.Store, opts.Now)
	if err != nil {
		return nil, err
	}
	s.cookies = cj

	// Failed client authentications are counted per client and per address in the store; past a limit,
	// secrets this server has not verified recently are refused without a bcrypt (see package clientauth).
	clientAuth := &clientauth.Limiter{Storage: opts.Store, Now: opts.Now}
	s.fosite = &fosite.Config{
		GlobalSecret:                opts.GlobalSecret,
		IDTokenIssuer:               opts.Issuer,
		AccessTokenIssuer:           opts.Issuer,
		TokenURL:                    opts.Issuer + "/oauth2/token",
		SendDebugMessagesToClients:  false,
		ScopeStrategy:               fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:    fosite.DefaultAudienceMatchingStrategy,
		RefreshTokenScopes:          []string{"offline_access", "offline"},
		EnforcePKCEForPublicClients: true,
		MinParameterEntropy:         fosite.MinParameterEntropy,
		// Client secrets stay bcrypt hashes at rest; a polling client's repeated checks are cached
		// under a keyed MAC so each poll does not pay a bcrypt (see package clientauth).
		ClientSecretsHasher: &clientauth.CachingHasher{Hasher: &fosite.BCrypt{Config: &fosite.Config{HashCost: 10}}},
		// jwks_uri: bounded, SSRF-safe, cached, invalid_client on any failure (loopback only in dev).
		JWKSFetcherStrategy:          &clientauth.JWKSFetcher{AllowLoopback: opts.Dev, Now: opts.Now},
		ClientAuthenticationStrategy: clientAuth.AuthenticateClient,
	}
	keyGetter := func(context.Context) (interface{}, error) { return opts.SigningKey, nil }
	strategy := &fcompose.CommonStrategy{
		CoreStrategy:               fcompose.NewOAuth2HMACStrategy(s.fosite),
		OpenIDConnectTokenStrategy: fcompose.NewOpenIDConnectStrategy(keyGetter, s.fosite),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
	}

	// Everything the grants are built with exists before they are composed: the audit log, the
	// outbox and its worker, each grant's options.
	if err := s.setupAudit(); err != nil {
		return nil, err
	}
	if err := s.setupOutbox(); err != nil {
		return nil, err
	}
	if err := s.setupSecurityEvents(); err != nil {
		return nil, err
	}
	s.dpop = compose.NewDPoP(s.dpopOptions())
	s.deviceGrant = compose.NewDeviceGrant(s.deviceOptions())
	s.cibaGrant = compose.NewCIBAGrant(s.cibaOptions())
	s.otpGrant = compose.NewOTPGrant(s.otpOptions())
	s.registration = compose.NewRegistration(s.registrationOptions())
	factories := []fcompose.Factory{
		fcompose.OAuth2AuthorizeExplicitFactory,
		fcompose.OAuth2ClientCredentialsGrantFactory,
		compose.RefreshTokenGrantFactory, // fosite's refresh grant, safe under concurrent refreshes (handler/refresh)
		fcompose.OpenIDConnectExplicitFactory,
		fcompose.OpenIDConnectRefreshFactory,
		fcompose.OAuth2TokenIntrospectionFactory,
		fcompose.OAuth2TokenRevocationFactory,
		fcompose.OAuth2PKCEFactory,
		s.deviceGrant.Factory,
		s.cibaGrant.Factory,
		s.otpGrant.Factory,
		s.registration.Factory,
		s.dpop.Factory, // binds and types what every grant above issues (compose.Compose runs it last)
	}
	if opts.Reciprocal.Partner != "" {
		s.reciprocalOAuth = compose.NewReciprocalGrant(s.reciprocalOptions())
		factories = append(factories, s.reciprocalOAuth.Factory, s.reciprocalOAuth.ScopeFactory)
	}
	s.provider = compose.Compose(s.fosite, opts.Store, strategy, factories...)
	clientAuth.Next = s.provider.Fosite.DefaultClientAuthenticationStrategy

	if err := registerDemoClients(ctx, opts.Store); err != nil {
		return nil, err
	}
	for _, setup := range []struct {
		name string
		run  func(context.Context) error
	}{{"dpop", s.setupDPoP}, {"kiosk", s.setupKiosk}, {"ciba", s.setupCIBA}, {"otp", s.setupOTP}, {"reciprocal", s.setupReciprocal}} {
		if err := setup.run(ctx); err != nil {
			return nil, fmt.Errorf("example: %s: %w", setup.name, err)
		}
	}
	s.startWorkers(ctx)
	s.routes()
	return s, nil
}

// setupOutbox makes the durable outbox of ping and push callbacks and device alerts, when the store
// keeps one: queued in the decisions' transactions, delivered by one worker (started by startWorkers).
func (s *Server) setupOutbox() error {
	obs, ok := s.store.(outbox.Storage)
	if !ok {
		return nil
	}
	sealer, err := outbox.NewSealer(s.opts.GlobalSecret)
	if err != nil {
		return err
	}
	s.queue = &outbox.Queue{Storage: obs, Sealer: sealer, Now: s.opts.Now}
	s.worker = &outbox.Worker{
		Storage: obs, Sealer: sealer, Deliverer: s.outboxDeliverer(),
		Now: s.opts.Now, Logger: s.log, Poll: 2 * time.Second,
	}
	return nil
}

// kick wakes the outbox worker (after a decision queued a message), when there is one.
func (s *Server) kick() {
	if s.worker != nil {
		s.worker.Kick()
	}
}

// startWorkers runs the background work until ctx ends: the outbox worker, the expiry of push
// requests, the audit of device grants that expired unseen.
func (s *Server) startWorkers(ctx context.Context) {
	if s.worker != nil {
		go func() {
			if err := s.worker.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("outbox worker stopped", slog.String("error", err.Error()))
			}
		}()
		go s.expirePush(ctx)
	}
	if ks, ok := s.store.(rfc8628.KioskStorage); ok {
		go s.auditExpiries(ctx, ks, s.kiosk.auditLog)
	}
}

// Provider returns the composed provider (for tests and tools).
func (s *Server) Provider() *compose.Provider { return s.provider }

// Store returns the server's store (for tests and tools).
func (s *Server) Store() Store { return s.store }

// Device, CIBA, OTP and Reciprocal return the composed grants (for tests and tools); Reciprocal is nil
// without a partner.
func (s *Server) Device() *compose.DeviceGrant         { return s.deviceGrant }
func (s *Server) CIBA() *compose.CIBAGrant             { return s.cibaGrant }
func (s *Server) OTP() *compose.OTPGrant               { return s.otpGrant }
func (s *Server) Reciprocal() *compose.ReciprocalGrant { return s.reciprocalOAuth }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	if isAPIPath(r.URL.Path) {
		rw = &apiMethodErrors{ResponseWriter: rw}
	}
	s.mux.ServeHTTP(rw, r)
}

// isAPIPath reports whether path belongs to an API (JSON) endpoint rather than a page.
func isAPIPath(path string) bool {
	for _, p := range []string{"/oauth2/", "/admin/", "/.well-known/", "/userinfo", "/api/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// apiMethodErrors turns the router's plain-text 405 Method Not Allowed into an RFC 6749 §5.2 style
// JSON error (with the router's Allow header), as the API endpoints answer everything else.
type apiMethodErrors struct {
	http.ResponseWriter
	swallow bool
}

func (w *apiMethodErrors) WriteHeader(status int) {
	if status != http.StatusMethodNotAllowed || w.swallow {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.swallow = true
	w.Header().Del("Content-Length")
	writeJSON(w.ResponseWriter, status, map[string]string{
		"error":             "invalid_request",
		"error_description": "The HTTP method is not allowed here; see the Allow header.",
	})
}

func (w *apiMethodErrors) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil // the router's text body, replaced by the JSON above
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /assets/pages.js", s.pagesScript)
	m.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	m.HandleFunc("GET /.well-known/oauth-authorization-server", s.discovery)
	m.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	m.HandleFunc("/oauth2/token", s.token)
	m.Handle("/oauth2/device/auth", s.deviceGrant.Authorization)
	m.Handle("/oauth2/revoke", &rfc7009.Endpoint{Provider: s.provider.Fosite})
	m.Handle("/oauth2/introspect", &rfc7662.Endpoint{
		Provider:   s.provider.Fosite,
		NewSession: func() fosite.Session { return s.newSession("", time.Time{}) },
		Allowed:    demoIntrospectionPolicy,
	})
	m.HandleFunc("/userinfo", s.userinfo)
	m.HandleFunc("/oauth2/auth", s.authorize)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)
	m.HandleFunc("GET /device", s.devicePage)
	m.HandleFunc("POST /device", s.deviceDecide)
	m.HandleFunc("GET /device/qr", s.deviceQR)
	m.HandleFunc("POST /admin/device/approve", s.admin(s.adminDeviceApprove))
	m.HandleFunc("POST /admin/device/deny", s.admin(s.adminDeviceDeny))
	if s.opts.Dev && s.outbox != nil {
		m.Handle("GET /dev/outbox", s.outbox) // DEMO: shows every message "sent"
	}
	s.kioskRoutes(m)
	s.cibaRoutes(m)
	s.otpRoutes(m)
	s.reciprocalRoutes(m)
	s.registrationRoutes(m)
	s.resourceRoutes(m)
	s.policyRoutes(m)
	s.accountRoutes(m)
}

// newSession is the session tokens are issued with: an OpenID Connect session for subject that can
// carry a DPoP binding.
func (s *Server) newSession(subject string, authTime time.Time) *dpop.OpenIDSession {
	now := time.Now().UTC()
	// fosite checks auth_time against the real clock when it signs the ID token; the grants' clock
	// (Options.Now, moved ahead in tests) must not put the sign-in in fosite's future.
	if authTime.After(now) {
		authTime = now
	}
	return dpop.NewOpenIDSession(&openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			Subject:     subject,
			Issuer:      s.opts.Issuer,
			AuthTime:    authTime.UTC().Truncate(time.Second),
			RequestedAt: now,
		},
		Headers: &jwt.Headers{Extra: map[string]interface{}{"kid": s.keyID}},
		Subject: subject,
	})
}

func (s *Server) discovery(rw http.ResponseWriter, r *http.Request) {
	iss := s.opts.Issuer
	m := map[string]interface{}{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/oauth2/auth",
		"token_endpoint":                        iss + "/oauth2/token",
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"userinfo_endpoint":                     iss + "/userinfo",
		"revocation_endpoint":                   iss + "/oauth2/revoke",
		"introspection_endpoint":                iss + "/oauth2/introspect",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      withChoiceScopes(demoScopes),
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "name", "email"},
		"code_challenge_methods_supported":      s.pkceMethods(),
		// Request objects by reference are refused (fosite fetches none for these clients); the default
		// of OpenID Connect Discovery §3 is true, so say so.
		"request_uri_parameter_supported":                  false,
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256", "PS256"},
		"revocation_endpoint_auth_methods_supported":       []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"introspection_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
	}
	for k, v := range s.provider.Metadata() {
		m[k] = v
	}
	writeJSON(rw, http.StatusOK, m)
}

func (s *Server) jwks(rw http.ResponseWriter, r *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: s.keyID, Algorithm: "RS256", Use: "sig"}}}
	rw.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(rw, http.StatusOK, set)
}

func (s *Server) token(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.provider
	if err := rfc6749.CheckTokenRequest(rw, r); err != nil {
		p.WriteAccessError(ctx, rw, nil, rfc6749.Sanitize(err))
		return
	}
	req, err := p.NewAccessRequest(ctx, r, s.newSession("", time.Time{}))
	if err != nil {
		s.logTokenError(ctx, r, err)
		rfc6749.SetErrorHeaders(rw, r, err)
		dpop.SetNonceHeader(rw.Header(), err)
		p.WriteAccessError(ctx, rw, req, rfc6749.Sanitize(err))
		return
	}
	grantClientCredentials(req)
	resp, err := p.NewAccessResponse(ctx, req)
	if err != nil {
		s.logTokenError(ctx, r, err)
		p.WriteAccessError(ctx, rw, req, rfc6749.Sanitize(err))
		return
	}
	p.WriteAccessResponse(ctx, rw, req, resp)
}

// logTokenError logs refused token requests; polling answers are routine and stay at debug level.
func (s *Server) logTokenError(ctx context.Context, r *http.Request, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	level := slog.LevelInfo
	switch {
	case errors.Is(err, pending.ErrAuthorizationPending), errors.Is(err, pending.ErrSlowDown):
		level = slog.LevelDebug
	case rfc.CodeField >= 500:
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "token request refused", slog.String("error", rfc.ErrorField),
		slog.String("hint", rfc.HintField), slog.String("debug", rfc.DebugField), slog.String("grant_type", r.PostFormValue("grant_type")))
}

// pkceMethods are the PKCE code_challenge_method values the authorization endpoint accepts (RFC 7636
// §4.3; RFC 8414 §2): S256, and plain only when fosite is configured to allow it.
func (s *Server) pkceMethods() []string {
	if s.fosite.EnablePKCEPlainChallengeMethod {
		return []string{"S256", "plain"}
	}
	return []string{"S256"}
}

// grantClientCredentials grants a client_credentials request the scopes and audience it asked for.
// fosite's handler has already refused any the client may not have (RFC 6749 §4.4.2, §3.3), but leaves
// granting to the server, so without this the token would carry no scope at all.
func grantClientCredentials(req fosite.AccessRequester) {
	if !req.GetGrantTypes().ExactOne("client_credentials") {
		return
	}
	for _, scope := range req.GetRequestedScopes() {
		req.GrantScope(scope)
	}
	for _, aud := range req.GetRequestedAudience() {
		req.GrantAudience(aud)
	}
}

func (s *Server) userinfo(rw http.ResponseWriter, r *http.Request) {
	ar, _, ok := s.resourceToken(rw, r, "/userinfo") // Bearer, or DPoP with a proof (RFC 9449 §7)
	if !ok {
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		writeJSON(rw, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The access token lacks the openid scope."})
		return
	}
	subject := ar.GetSession().GetSubject()
	claims := map[string]interface{}{"sub": subject}
	if u, ok := demoUsers[subject]; ok {
		if ar.GetGrantedScopes().Has("profile") {
			claims["name"] = u.Name
		}
		if ar.GetGrantedScopes().Has("email") {
			claims["email"] = u.Email
			claims["email_verified"] = true
		}
	}
	writeJSON(rw, http.StatusOK, claims)
}

// writeJSON writes v as JSON. Answers are not cached (Cache-Control: no-store) unless the handler set
// its own Cache-Control first, as the JWKS does.
func writeJSON(rw http.ResponseWriter, status int, v interface{}) {
	rw.Header().Set("Content-Type", "application/json;charset=UTF-8")
	if rw.Header().Get("Cache-Control") == "" {
		rw.Header().Set("Cache-Control", "no-store")
	}
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
