package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/example/server"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

func init() {
	subcommands["audit-verify"] = subcommand{"verify the audit log's hash chain and signatures with public keys only", auditVerifyCommand}
}

// auditVerifyCommand verifies the audit chain of a database with public keys only:
//
//	curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/admin/audit/jwks > audit-jwks.json
//	go run ./example audit-verify -db grants.db -jwks audit-jwks.json [-anchor 12:hash]
//
// It prints the head to keep as the next anchor, and fails (exit status 1) naming the first record
// that was edited, removed or reordered.
func auditVerifyCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("example audit-verify", flag.ContinueOnError)
	db := fs.String("db", "grants.db", "a SQLite file path or a postgres:// URL")
	jwks := fs.String("jwks", "audit-jwks.json", "the audit log's public keys (GET /admin/audit/jwks)")
	anchor := fs.String("anchor", "", `a head recorded earlier ("<seq>:<hash>"): the log must still contain it`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	keys, err := os.ReadFile(*jwks)
	if err != nil {
		return err
	}
	s, err := sqlstore.Open(ctx, *db, sqlstore.WithoutMigrations())
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := server.VerifyAuditLog(ctx, s, keys, *anchor)
	var te *audit.TamperError
	if errors.As(err, &te) {
		return fmt.Errorf("audit log TAMPERED: %w (records 1 to %d verify; head %s)", err, rep.Records, rep.Head)
	} else if err != nil {
		return err
	}
	fmt.Printf("audit log intact: %d records, head %s\n", rep.Records, rep.Head)
	return nil
}
