// Command client is the command-line demo client for the grants in this
// module. Each grant is a subcommand:
//
//	go run ./example/client device [-issuer URL] [-client-id ID] [-client-secret S] [-scope "a b"] [-dpop]
//	go run ./example/client ciba -mode poll|ping|push -login-hint alice
//	go run ./example/client otp -login-hint "1 Main St"
//
// It talks to any server that publishes OpenID Connect discovery metadata,
// including the bundled example server (go run ./example). Press Ctrl-C to
// give up while it waits.
//
// While it waits it shows the time left, the checks made, the polling interval
// and a note when the server answers slow_down: redrawn in place on a terminal
// (bubbletea), as one plain line per change when stdout is a pipe or a file.
// Every failure is one sentence that says what to do, with the server's error
// code in brackets.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it parses its own flags and runs.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands; ciba and otp will join device here.
var commands = map[string]command{
	"device": {summary: "sign in with the device authorization grant (RFC 8628)", run: deviceCommand},
}

// errUsage marks an error that was already explained together with usage.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its outcome into an exit status:
// 0 success, 1 failure, 2 bad usage, 130 interrupted.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "client: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "\nclient: cancelled")
		return 130
	default:
		fmt.Fprintf(stderr, "client: %v\n", err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: client <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'client <command> -h' for the flags of a command.")
}
