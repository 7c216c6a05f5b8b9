// Command example runs the bundled authorization server: fosite composed with every grant of
// github.com/fosite-contrib/grants, with demo users, demo clients, real pages and real storage.
//
//	go run ./example                 # http://127.0.0.1:8080
//	go run ./example -addr 127.0.0.1:9000
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
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fosite-contrib/grants/example/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	issuer := flag.String("issuer", "", "public base URL of the server (default http://<addr>)")
	adminToken := flag.String("admin-token", os.Getenv("GRANTS_ADMIN_TOKEN"), "bearer token of the admin API (default $GRANTS_ADMIN_TOKEN, else a random one printed at start)")
	verbose := flag.Bool("v", false, "log debug lines too (every poll)")
	dev := flag.Bool("dev", true, "development mode: messages go to the outbox page at /dev/outbox instead of being sent")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := server.New(ctx, server.Options{Issuer: *issuer, AdminToken: *adminToken, Logger: log, Dev: *dev})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("listening", "issuer", *issuer, "addr", ln.Addr().String())
	fmt.Fprintf(os.Stderr, "open %s — sign in as alice / alice-password; try: go run ./example/client device\n", *issuer)

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
