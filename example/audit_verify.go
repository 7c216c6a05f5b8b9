package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
//	go run ./example audit-verify -db grants.db -jwks audit-jwks.json [-anchor 12:hash] [-events]
//
// It prints the head to keep as the next anchor, and fails (exit status 1) naming the first record
// that was edited, removed or reordered. With -events it first prints every verified event, one a line.
func auditVerifyCommand(ctx context.Context, args []string) error {
	return auditVerify(ctx, args, os.Stdout)
}

func auditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("example audit-verify", flag.ContinueOnError)
	db := fs.String("db", "grants.db", "a SQLite file path or a postgres:// URL")
	jwks := fs.String("jwks", "audit-jwks.json", "the audit log's public keys (GET /admin/audit/jwks)")
	anchor := fs.String("anchor", "", `a head recorded earlier ("<seq>:<hash>"): the log must still contain it`)
	events := fs.Bool("events", false, "also print each verified event: sequence number, time, grant, event, subject, actor, client, request ID and details")
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
	var visit func(int64, audit.Event) error
	if *events {
		visit = func(seq int64, e audit.Event) error { return printEvent(out, seq, e) }
	}
	rep, err := server.ReadAuditLog(ctx, s, keys, *anchor, visit)
	var te *audit.TamperError
	if errors.As(err, &te) {
		return fmt.Errorf("audit log TAMPERED: %w (records 1 to %d verify; head %s)", err, rep.Records, rep.Head)
	} else if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "audit log intact: %d records, head %s\n", rep.Records, rep.Head)
	return err
}

// eventTypePrefix is what the module's event types share; printEvent leaves it out.
const eventTypePrefix = "https://github.com/fosite-contrib/grants/event/"

// printEvent writes e as one line:
//
//	7 2026-12-03T14:02:11Z ciba pending/approved subject=dave client=demo-ciba-poll request=… {"scopes":"openid"}
func printEvent(w io.Writer, seq int64, e audit.Event) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s %s", seq, e.Time.UTC().Format("2006-01-02T15:04:05Z"), e.Grant, strings.TrimPrefix(e.Type, eventTypePrefix))
	for _, f := range [][2]string{{"subject", e.Subject}, {"actor", e.Actor}, {"client", e.ClientID}, {"request", e.RequestID}} {
		switch {
		case f[1] == "":
		case strings.ContainsFunc(f[1], func(r rune) bool { return r <= ' ' || r == '"' || r == 0x7f }):
			fmt.Fprintf(&b, " %s=%q", f[0], f[1]) // one event, one line
		default:
			fmt.Fprintf(&b, " %s=%s", f[0], f[1])
		}
	}
	if len(e.Data) > 0 {
		data, err := json.Marshal(e.Data) // map keys in order
		if err != nil {
			return err
		}
		b.WriteString(" ")
		b.Write(data)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
