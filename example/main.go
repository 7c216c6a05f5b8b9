// Command example runs the bundled authorization server: fosite composed with every grant of
// github.com/fosite-contrib/grants, with demo users, demo clients, real pages and real storage.
//
//	go run ./example                          # serve http://127.0.0.1:8080, state in ./grants.db
//	go run ./example -db memory               # nothing kept
//	go run ./example -db postgres://…         # many instances on one PostgreSQL
//	go run ./example migrate -db ./grants.db  # apply the schema migrations and exit
//	go run ./example purge -db ./grants.db    # delete expired grants, codes and tokens and exit
//	go run ./example audit-verify -db ./grants.db -jwks audit-jwks.json  # check the audit chain
//	go run ./example -h                       # every flag and subcommand
//
// See the README for the demo users and clients and a walk through each grant.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/geoip"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/secevent"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // the usage was printed on request
	}
	if errors.Is(err, errUsage) {
		os.Exit(2) // already explained, with the usage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// subcommand is a command other than serving; it parses its own flags.
type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// subcommands lists the commands other than serving.
var subcommands = map[string]subcommand{
	"migrate": {"apply the schema migrations to -db and exit", migrateCommand},
	"purge":   {"delete expired grants, codes and tokens from -db and exit", purgeCommand},
}

// errUsage is a command line that was already explained together with the usage.
var errUsage = errors.New("usage")

// run runs a subcommand, or serves; usage and flag errors go to stderr. -h answers flag.ErrHelp.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 {
		if cmd, ok := subcommands[args[0]]; ok {
			return cmd.run(ctx, args[1:])
		}
	}
	return serve(ctx, args, stderr)
}

// usage prints how to serve, the subcommands, and the serving flags.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: example [flags]              serve the example authorization server")
	fmt.Fprintln(w, "       example <command> [flags]    run a maintenance command and exit")
	fmt.Fprintln(w, "\ncommands (each takes -h):")
	names := make([]string, 0, len(subcommands))
	for name := range subcommands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-13s %s\n", name, subcommands[name].summary)
	}
	fmt.Fprintln(w, "\nflags:")
	fs.PrintDefaults()
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr, fs) }
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	issuer := fs.String("issuer", "", "public base URL of the server (default http://<addr>)")
	db := fs.String("db", "grants.db", `storage: a SQLite file path, a postgres:// URL, or "memory"`)
	keysPath := fs.String("keys", "", "file with the token secret and signing key, created on first start (default: next to the SQLite file, or ./grants-keys.json for PostgreSQL)")
	adminToken := fs.String("admin-token", os.Getenv("GRANTS_ADMIN_TOKEN"), "bearer token of the admin API (default $GRANTS_ADMIN_TOKEN, else a random one printed at start)")
	dev := fs.Bool("dev", true, "development mode: messages go to the outbox page at /dev/outbox instead of being sent")
	verbose := fs.Bool("v", false, "log debug lines too (every poll)")
	pprofAddr := fs.String("pprof", "", "also serve Go's profiler (net/http/pprof) on this loopback address, such as 127.0.0.1:6060; off by default")
	reciprocalPartner := fs.String("reciprocal-partner", "", "issuer URL of a partner server for the Reciprocal OAuth demo (another instance of this example); in -dev mode plain http to loopback is allowed")
	opsAddr := fs.String("ops-addr", defaultOpsAddr, `serve /metrics (Prometheus), /healthz and /readyz on this address, apart from the public one; "off" for none. Traces go over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set`)
	logFormat := fs.String("log-format", "text", `log lines as "text" or "json"`)
	cibaPing := fs.String("ciba-ping-url", server.DefaultCIBAPingEndpoint, "`URL` where demo-ciba-ping is called back (its backchannel_client_notification_endpoint); the demo client's ciba -mode ping -listen must match")
	cibaKnowledge := fs.String("ciba-knowledge", "", "ask for a knowledge factor before a CIBA approval by e-mail link or text-message reply: `check` is "+strings.Join(server.KnowledgeChecks, " or ")+" (DEMO answers in the README)")
	dpopNonce := fs.Bool("dpop-nonce", false, "require a server nonce in every DPoP proof (RFC 9449 section 8)")
	geoipPaths := fs.String("geoip", "", "comma-separated MaxMind DB `files` (City, Country, ASN or ISP; GeoLite2 or GeoIP2) that place request addresses on the approval pages")
	initiationLimit := fs.Int("initiation-limit", 0, "`requests` per 15 minutes each initiation rate limit allows instead of its default: device authorizations per address (60), CIBA requests per user (5) and per client (300); -1 turns them off. For load tests from one address (a high limit keeps the cost of counting)")
	refuseAcross := fs.Bool("refuse-across-networks", false, "refuse approvals made from another network than the device's (RFC 10027: establish proximity)")
	var setReceivers stringList
	fs.Var(&setReceivers, "set-receiver", "`URL` that receives a Security Event Token (RFC 8417, pushed per RFC 8935) for every grant flagged as abused; repeatable")
	cibaPush := fs.String("ciba-push-url", server.DefaultCIBAPushEndpoint, "`URL` where demo-ciba-push receives its tokens (its backchannel_client_notification_endpoint); the demo client's ciba -mode push -listen must match")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "example: unknown command %q\n\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log, err := newLogger(stderr, *logFormat, level)
	if err != nil {
		return err
	}
	tel, err := newTelemetry(ctx)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.shutdown(sctx)
	}()

	if *issuer == "" {
		*issuer = "http://" + *addr
	}
	if *adminToken == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		*adminToken = hex.EncodeToString(b)
		fmt.Fprintf(stderr, "admin token (set -admin-token or GRANTS_ADMIN_TOKEN to choose one): %s\n", *adminToken)
	}

	store, closeStore, err := openStore(ctx, *db, tel.observer)
	if err != nil {
		return err
	}
	defer closeStore()
	tel.watchStore(store)
	opts := server.Options{Issuer: *issuer, AdminToken: *adminToken, Logger: log, Dev: *dev, Store: store, Observer: tel.observer}
	opts.Reciprocal = server.ReciprocalOptions{Partner: *reciprocalPartner, AllowLoopbackHTTP: *dev}
	opts.CIBA = server.CIBAOptions{PingEndpoint: *cibaPing, PushEndpoint: *cibaPush, Knowledge: *cibaKnowledge}
	if key := os.Getenv("GRANTS_SMS_WEBHOOK_KEY"); key != "" {
		opts.CIBA.SMSWebhookKey = []byte(key) // the SMS provider's auth token
	}
	opts.DPoP = server.DPoPOptions{RequireNonce: *dpopNonce}
	opts.Policy.RefuseAcrossNetworks = *refuseAcross
	if n := *initiationLimit; n != 0 {
		opts.Policy.Device.Initiation = pending.InitiationLimits{PerAddress: n}
		opts.Policy.CIBA.Initiation = pending.InitiationLimits{PerUser: n, PerClient: n}
	}
	for _, u := range setReceivers {
		opts.Policy.SecurityEventReceivers = append(opts.Policy.SecurityEventReceivers, secevent.Receiver{URL: u, Audience: u})
	}
	if *geoipPaths != "" {
		loc, err := geoip.Open(strings.Split(*geoipPaths, ",")...)
		if err != nil {
			return err
		}
		defer loc.Close()
		opts.Policy.Locator = loc
	}
	if *db != "memory" {
		if *keysPath == "" {
			*keysPath = defaultKeysPath(*db)
		}
		var created bool
		if opts.GlobalSecret, opts.SigningKey, created, err = loadOrCreateKeys(*keysPath); err != nil {
			return err
		}
		if s, ok := store.(*sqlstore.Store); ok {
			if err := verifyKeys(ctx, s, opts, *keysPath, *db, created); err != nil {
				return err
			}
		}
	}
	// Expired grants, codes and tokens are not needed for correctness but pile up (both stores).
	if p, ok := store.(purger); ok {
		go func() {
			_ = p.RunPurge(ctx, 15*time.Minute, func(err error) { log.Error("purge failed", "error", err) })
		}()
	}

	srv, err := server.New(ctx, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("listening", "issuer", *issuer, "addr", ln.Addr().String(), "db", redactDSN(*db))
	fmt.Fprintf(stderr, "open %s — sign in as alice / alice-password; try: go run ./example/client device\n", *issuer)

	if *opsAddr != "off" {
		stopOps, err := serveOps(*opsAddr, server.OpsHandler(tel.registry, store), log)
		if err != nil {
			return err
		}
		defer stopOps()
	}
	if *pprofAddr != "" {
		stopProfiler, err := serveProfiler(*pprofAddr)
		if err != nil {
			return err
		}
		defer stopProfiler()
		log.Info("profiler listening", "addr", *pprofAddr)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		// One-time codes are delivered after their answer: let the last ones go out (each is bounded by
		// the OTP grant's SendTimeout) and be audited before the store closes.
		srv.OTP().Challenge.Flush()
		return err
	}
	return nil
}

// purger is a store that purges what expired in the background (storage/sql and storage/memory).
type purger interface {
	RunPurge(ctx context.Context, every time.Duration, onError func(error)) error
}

func dbFlag(name string, args []string) (string, error) {
	fs := flag.NewFlagSet("example "+name, flag.ContinueOnError)
	db := fs.String("db", "grants.db", "a SQLite file path or a postgres:// URL")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	return *db, nil
}

func migrateCommand(ctx context.Context, args []string) error {
	db, err := dbFlag("migrate", args)
	if err != nil {
		return err
	}
	s, err := sqlstore.Open(ctx, db, sqlstore.WithoutMigrations())
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("schema at version %d\n", v)
	return nil
}

func purgeCommand(ctx context.Context, args []string) error {
	db, err := dbFlag("purge", args)
	if err != nil {
		return err
	}
	s, err := sqlstore.Open(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	n, err := s.Purge(ctx, time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("purged %d expired rows\n", n)
	return nil
}

// redactDSN hides a password in a database URL for logging.
func redactDSN(dsn string) string {
	if u, err := urlParse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return dsn
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
