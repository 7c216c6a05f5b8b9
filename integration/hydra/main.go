// Command hydra runs Ory Hydra v2.3.0 with the grants of github.com/fosite-contrib/grants added: the
// device authorization grant (RFC 8628) and OpenID CIBA (poll, ping and push), composed into Hydra's
// own fosite provider, with their tables in Hydra's database and Hydra's tokens.
//
//	go run .                                # http://127.0.0.1:8080, state in ./hydra.db (SQLite)
//	go run . -db postgres://…               # PostgreSQL
//	go run . -addr 127.0.0.1:9000 -issuer http://localhost:9000 -admin-token secret
//
// Hydra's public routes are served as usual (/oauth2/auth, /oauth2/token, /userinfo, discovery, ...),
// its admin API under /admin/ behind the admin token, beside the device authorization endpoint
// (/oauth2/device/auth), the CIBA endpoint (/oauth2/bc-authorize), the device verification page
// (/device), which approves through Hydra's login and consent flow, a demo login and consent app
// (/login, /consent), and scripted approval (POST /admin/device/approve, /admin/ciba/approve). See
// the README of the repository.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hydra:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hydra", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	issuer := fs.String("issuer", "", "public base URL of the server (default http://<addr>)")
	db := fs.String("db", "hydra.db", "storage: a SQLite file path or a postgres:// URL")
	secretPath := fs.String("secret", "", "file holding Hydra's system secret, created on first start (default: next to the SQLite file, or ./hydra-secret for PostgreSQL); $SECRETS_SYSTEM overrides it")
	adminToken := fs.String("admin-token", os.Getenv("GRANTS_ADMIN_TOKEN"), "bearer token of the admin API, Hydra's included (default $GRANTS_ADMIN_TOKEN, else a random one printed at start)")
	dev := fs.Bool("dev", true, "development mode: an http issuer and loopback http CIBA callbacks are allowed")
	verbose := fs.Bool("v", false, "log Hydra's info lines too")
	_ = fs.Parse(args)

	level, hydraLevel := slog.LevelInfo, "error"
	if *verbose {
		level, hydraLevel = slog.LevelDebug, "info"
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *issuer == "" {
		*issuer = "http://" + *addr
	}
	if *adminToken == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		*adminToken = hex.EncodeToString(b)
		fmt.Fprintf(os.Stderr, "admin token (set -admin-token or GRANTS_ADMIN_TOKEN to choose one): %s\n", *adminToken)
	}
	secret := os.Getenv("SECRETS_SYSTEM")
	if secret == "" {
		if *secretPath == "" {
			*secretPath = "hydra-secret"
			if !strings.HasPrefix(*db, "postgres://") && !strings.HasPrefix(*db, "postgresql://") {
				*secretPath = *db + ".secret"
			}
		}
		var err error
		if secret, err = loadOrCreateSecret(*secretPath); err != nil {
			return err
		}
	}

	srv, err := New(ctx, Options{Issuer: *issuer, DB: *db, Secret: secret, AdminToken: *adminToken, Logger: log, HydraLogLevel: hydraLevel, Dev: *dev})
	if err != nil {
		return err
	}
	defer srv.Close()
	// Expired pending grants, attempt counters and outbox rows of the grants are not needed for
	// correctness but pile up (Hydra's own expired tokens are flushed by `hydra janitor`).
	go func() {
		_ = srv.Store().SQL().RunPurge(ctx, 15*time.Minute, func(err error) { log.Error("purge failed", "error", err) })
	}()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("listening", "issuer", *issuer, "addr", ln.Addr().String(), "db", redactDSN(*db))
	fmt.Fprintf(os.Stderr, "open %s/device — sign in as alice / alice-password; try the device grant with demo-device\n", *issuer)

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
		return hs.Shutdown(sctx)
	}
	return nil
}

// loadOrCreateSecret reads Hydra's system secret from path, or creates one (256 random bits, hex) there.
func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return "", fmt.Errorf("the secret in %s is shorter than 32 characters", path)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	r := make([]byte, 32)
	if _, err := rand.Read(r); err != nil {
		return "", err
	}
	s := hex.EncodeToString(r)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the system secret: %w", err)
	}
	return s, nil
}

// redactDSN hides a password in a database URL for logging.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.Index(dsn[i+3:], "@"); j >= 0 {
			if k := strings.Index(dsn[i+3:i+3+j], ":"); k >= 0 {
				return dsn[:i+3+k+1] + "xxxxx" + dsn[i+3+j:]
			}
		}
	}
	return dsn
}
