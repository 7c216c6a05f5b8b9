package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/hydra/v2/driver"
	"github.com/ory/hydra/v2/driver/config"
	"github.com/ory/hydra/v2/fositex"
	"github.com/ory/hydra/v2/x"
	"github.com/ory/x/configx"
	"github.com/ory/x/contextx"
	"github.com/ory/x/logrusx"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/otp"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/integration/hydra/hydragrants"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/outbox"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// Options configure the server.
type Options struct {
	// Issuer is the public base URL, e.g. http://127.0.0.1:8080 (no trailing slash).
	Issuer string
	// DB is where state lives: a SQLite file path, or a postgres:// URL.
	DB string
	// Secret is Hydra's system secret (at least 32 characters): it keys Hydra's tokens, encrypts its
	// signing keys and sessions at rest, and keys this module's handles and user codes. Keep it with
	// the database: a restart with another one loses everything.
	Secret string
	// AdminToken is the bearer token of every /admin/ route: Hydra's admin API and this server's.
	AdminToken string
	// Logger receives this server's log lines; Hydra logs through its own logger at HydraLogLevel.
	Logger *slog.Logger
	// HydraLogLevel is Hydra's log level ("error" unless set).
	HydraLogLevel string
	// Dev allows an http issuer, and loopback http callbacks for CIBA ping and push (development only).
	Dev bool
	// PollingInterval is the device grant's and CIBA's polling interval; zero means 5 seconds.
	PollingInterval time.Duration
	// Now is the grants' clock (Hydra keeps its own); nil means time.Now.
	Now func() time.Time
}

// Server is Ory Hydra v2.3.0 with this module's device grant, CIBA and OTP grant, on one listener: Hydra's public
// routes, Hydra's admin API under /admin/ (behind the admin token), the grants' endpoints, the device
// verification page, a demo login and consent app, and the scripted-approval admin API.
type Server struct {
	opts     Options
	reg      driver.Registry
	grants   hydragrants.Grants
	device   *compose.DeviceGrant
	ciba     *compose.CIBAGrant
	otp      *compose.OTPGrant
	outbox   *notify.Outbox // DEMO: OTP messages are kept in memory and shown at /dev/outbox
	consent  *hydragrants.DeviceConsent
	worker   *outbox.Worker
	handler  http.Handler
	admin    http.Handler
	stop     context.CancelFunc
	finished chan struct{}
}

// hydraDSN turns the -db flag into Hydra's DSN. SQLite runs through this module's pure-Go driver
// (hydragrants.RegisterSQLite); pop's own global lock on SQLite is off, since the driver's immediate
// write transactions already queue writers.
func hydraDSN(db string) (string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return db, nil
	}
	if db == "" || db == "memory" || strings.Contains(db, ":memory:") {
		return "", errors.New("-db must be a SQLite file or a postgres:// URL")
	}
	path, err := filepath.Abs(db)
	if err != nil {
		return "", err
	}
	return "sqlite://" + path + "?_fk=true&lock=false", nil
}

// New builds the server: Hydra's registry on the database (applying Hydra's migrations and this
// module's), the grants composed into Hydra's fosite provider, the demo clients.
func New(ctx context.Context, opts Options) (*Server, error) {
	if len(opts.Secret) < 32 {
		return nil, errors.New("the system secret must have at least 32 characters")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HydraLogLevel == "" {
		opts.HydraLogLevel = "error"
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	dsn, err := hydraDSN(opts.DB)
	if err != nil {
		return nil, err
	}
	hydragrants.RegisterSQLite()

	s := &Server{opts: opts, finished: make(chan struct{})}
	issuer := opts.Issuer
	s.device = compose.NewDeviceGrant(rfc8628.Options{
		AuthorizationURL: issuer + "/oauth2/device/auth",
		VerificationURI:  issuer + "/device",
		PollingInterval:  opts.PollingInterval,
		Now:              opts.Now,
		Logger:           opts.Logger,
	})
	s.worker = &outbox.Worker{Deliverer: outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: opts.Dev}), Logger: opts.Logger, Now: opts.Now}
	s.ciba = compose.NewCIBAGrant(ciba.Options{
		BackchannelURL:    issuer + "/oauth2/bc-authorize",
		PollingInterval:   opts.PollingInterval,
		Now:               opts.Now,
		Resolver:          demoResolver{},
		Devices:           adminDevice{log: opts.Logger}, // DEMO: requests wait for POST /admin/ciba/approve
		Kick:              s.worker.Kick,
		AllowLoopbackHTTP: opts.Dev, // DEMO: ping and push callbacks to http://127.0.0.1 in dev mode
		Logger:            opts.Logger,
	})

	s.outbox = notify.NewOutbox(100)
	s.outbox.Now = opts.Now
	s.otp = compose.NewOTPGrant(otp.Options{
		ChallengeURL: issuer + "/oauth2/otp",
		Directory:    otp.DirectoryFunc(demoAccount),
		Sender:       s.outbox,
		NewSession: func(ctx context.Context, info otp.SessionInfo) (fosite.Session, error) {
			amr := []string{"otp"}
			if info.Channel == otp.SMS {
				amr = append(amr, "sms")
			}
			sess, _, err := hydragrants.NewSession(ctx, s.reg, info.Client, hydragrants.Identity{Subject: info.Subject, AuthenticatedAt: info.AuthTime, AMR: amr})
			return sess, err
		},
		Now:    opts.Now,
		Logger: opts.Logger,
	})

	logger := logrusx.New("Ory Hydra", config.Version)
	cfg, err := config.New(ctx, logger,
		configx.DisableEnvLoading(), // the flags say it all; a stray DSN in the environment must not win
		configx.WithValues(map[string]any{
			config.KeyDSN:                dsn,
			config.KeyIssuerURL:          issuer + "/",
			config.KeyPublicURL:          issuer + "/",
			config.KeyAdminURL:           issuer + "/",
			config.KeyLoginURL:           issuer + "/login",
			config.KeyConsentURL:         issuer + "/consent",
			config.KeyGetSystemSecret:    []string{opts.Secret},
			config.KeyDevelopmentMode:    opts.Dev,
			config.KeyLogLevel:           opts.HydraLogLevel,
			"log.leak_sensitive_values":  false,
			config.KeyCookieSameSiteMode: "Lax",
		}))
	if err != nil {
		return nil, fmt.Errorf("hydra configuration: %w", err)
	}
	if err := config.Validate(ctx, logger, cfg); err != nil {
		return nil, err
	}
	// driver.New refuses SQLite DSNs unless Hydra is built with its cgo `sqlite` tag; the registry
	// itself does not care which driver answers to "sqlite3" (see hydragrants.RegisterSQLite).
	reg := driver.NewRegistrySQL(cfg, logger, config.Version, config.Commit, config.Date)
	reg.WithExtraFositeFactories([]fositex.Factory{
		s.grants.Factory(s.device.Factory),
		s.grants.Factory(s.ciba.Factory),
		s.grants.Factory(s.otp.Factory),
	})
	if err := reg.Init(ctx, false, true, &contextx.Default{}, nil, nil); err != nil {
		return nil, fmt.Errorf("hydra: %w", err)
	}
	s.reg = reg
	started := false
	defer func() {
		if !started {
			_ = reg.Persister().Connection(ctx).Close()
		}
	}()
	driver.CallRegistry(ctx, reg) // composes the provider: the grants' factories run here
	store := s.grants.Store()
	if store == nil || s.device.Grant == nil || s.ciba.Grant == nil || s.otp.Grant == nil {
		return nil, errors.New("hydra did not compose the grants")
	}
	// A server started with another system secret than the database's could read none of the grants'
	// handles and sealed records (nor Hydra's keys): refuse to start, as the bundled example does.
	secret, err := s.config().GetGlobalSecret(ctx)
	if err != nil {
		return nil, err
	}
	fp, err := sqlstore.NewKeyFingerprint(secret, nil)
	if err != nil {
		return nil, err
	}
	if err := store.SQL().VerifyKeys(ctx, fp); err != nil {
		return nil, err
	}
	if err := createDemoClients(ctx, reg); err != nil {
		return nil, err
	}

	s.worker.Storage = store
	s.worker.Sealer = s.ciba.Queue.Sealer
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go func() {
		defer close(s.finished)
		if err := s.worker.Run(wctx); err != nil && !errors.Is(err, context.Canceled) {
			opts.Logger.Error("outbox worker stopped", "error", err)
		}
	}()

	started = true
	s.consent = &hydragrants.DeviceConsent{Registry: reg, Verifier: s.device.Verifier, Done: s.deviceDone, Now: opts.Now}
	s.routes(ctx)
	return s, nil
}

// routes puts Hydra's routers and this server's handlers on one mux.
func (s *Server) routes(ctx context.Context) {
	admin := x.NewRouterAdmin(s.reg.Config().AdminURL)
	public := x.NewRouterPublic()
	s.reg.RegisterRoutes(ctx, admin, public)
	s.admin = admin

	m := http.NewServeMux()
	m.Handle("/", s.consent.Intercept(public))
	discovery := hydragrants.Discovery(public, s.device.Grant, s.ciba.Grant, s.otp.Grant)
	m.Handle("GET /.well-known/openid-configuration", discovery)
	m.Handle("GET /.well-known/oauth-authorization-server", discovery)

	m.Handle("POST /oauth2/device/auth", s.device.Authorization)
	m.Handle("POST /oauth2/bc-authorize", s.ciba.Backchannel)
	m.Handle("POST /oauth2/otp", s.otp.Challenge)
	if s.opts.Dev {
		m.Handle("GET /dev/outbox", s.outbox) // DEMO: one-time codes, readable by anyone who can reach the server
	}

	m.HandleFunc("GET /device", s.devicePage)
	m.HandleFunc("POST /device", s.deviceLookup)
	m.HandleFunc("POST /device/continue", s.deviceContinue)

	// DEMO: the login and consent app an operator runs beside Hydra, reduced to fixed users.
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.loginSubmit)
	m.HandleFunc("GET /consent", s.consentPage)
	m.HandleFunc("POST /consent", s.consentSubmit)

	adminMux := http.NewServeMux()
	adminMux.Handle("/", admin)
	adminMux.HandleFunc("POST /admin/device/approve", s.adminDeviceApprove)
	adminMux.HandleFunc("POST /admin/device/deny", s.adminDeviceDeny)
	adminMux.HandleFunc("POST /admin/ciba/approve", s.adminCIBADecide(true))
	adminMux.HandleFunc("POST /admin/ciba/deny", s.adminCIBADecide(false))
	m.Handle("/admin/", s.requireAdmin(adminMux))
	s.handler = m
}

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close waits for the one-time codes still being delivered, stops the outbox worker and closes
// Hydra's database.
func (s *Server) Close() error {
	s.otp.Challenge.Flush()
	s.stop()
	<-s.finished
	return s.reg.Persister().Connection(context.Background()).Close()
}

// Registry returns Hydra's registry.
func (s *Server) Registry() driver.Registry { return s.reg }

// Store returns the grants' store in Hydra's database.
func (s *Server) Store() *hydragrants.Store { return s.grants.Store() }

// config is Hydra's fosite configuration.
func (s *Server) config() fosite.Configurator { return s.reg.OAuth2ProviderConfig() }

// issuerURL returns the issuer with path appended.
func (s *Server) issuerURL(path string, q url.Values) string {
	u := s.opts.Issuer + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}
