package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/internal/qrcode"
)

// deviceOptions configures runDevice.
type deviceOptions struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client
	// AuthMethod is how a ClientSecret is sent: "client_secret_basic" (the
	// default, which RFC 6749 §2.3.1 makes every server support) or
	// "client_secret_post".
	AuthMethod string
	Scopes     []string
	// HTTPClient makes every request; nil means a client with a 30-second
	// timeout per request (x/oauth2's DeviceAuth ignores the context).
	HTTPClient *http.Client
}

// deviceCommand parses the flags of the device subcommand and runs it.
func deviceCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := deviceOptions{}
	var scope string
	fs.StringVar(&opts.Issuer, "issuer", "http://127.0.0.1:8080", "issuer URL of the authorization server")
	fs.StringVar(&opts.ClientID, "client-id", "demo-device", "OAuth client ID")
	fs.StringVar(&opts.ClientSecret, "client-secret", "", "client secret, for a confidential client")
	fs.StringVar(&opts.AuthMethod, "auth-method", "client_secret_basic", "how to send -client-secret: client_secret_basic or client_secret_post")
	fs.StringVar(&scope, "scope", "openid profile offline_access", "space-separated scopes to request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: client device [flags]")
		fmt.Fprintln(stderr, "\nSigns in with the device authorization grant (RFC 8628) and prints the tokens.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "client device: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	switch opts.AuthMethod {
	case "client_secret_basic", "client_secret_post":
	default:
		fmt.Fprintf(stderr, "client device: unknown -auth-method %q\n", opts.AuthMethod)
		fs.Usage()
		return errUsage
	}
	opts.Scopes = strings.Fields(scope)
	return runDevice(ctx, opts, stdout)
}

// runDevice runs the device authorization grant (RFC 8628 §3) against the
// server at opts.Issuer with golang.org/x/oauth2: it asks for a device code,
// shows the user code, the verification URIs and a QR code of
// verification_uri_complete (§3.3.1), polls the token endpoint until the user
// decides (§3.4, §3.5), and prints the token response as JSON.
func runDevice(ctx context.Context, opts deviceOptions, stdout io.Writer) error {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	md, err := discover(ctx, client, opts.Issuer)
	if err != nil {
		return err
	}
	if md.DeviceAuthorizationEndpoint == "" {
		return fmt.Errorf("discovery: %s does not advertise a device_authorization_endpoint (RFC 8628 §4); it does not support the device grant", opts.Issuer)
	}

	cfg := &oauth2.Config{
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		Scopes:       opts.Scopes,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: md.DeviceAuthorizationEndpoint,
			TokenURL:      md.TokenEndpoint,
			AuthStyle:     oauth2.AuthStyleInHeader,
		},
	}
	var authOpts []oauth2.AuthCodeOption
	if opts.ClientSecret != "" {
		if opts.AuthMethod == "client_secret_post" {
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			// DeviceAuth sends only client_id; add the secret to the body.
			authOpts = append(authOpts, oauth2.SetAuthURLParam("client_secret", opts.ClientSecret))
		} else {
			// DeviceAuth has no header auth of its own; RFC 8628 §3.1 lets a
			// confidential client authenticate there as at the token endpoint.
			client = withBasicAuth(client, md.DeviceAuthorizationEndpoint, opts.ClientID, opts.ClientSecret)
		}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)

	da, err := cfg.DeviceAuth(ctx, authOpts...)
	if err != nil {
		return describe("device authorization request", err)
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return errors.New("device authorization response lacks device_code, user_code or verification_uri (RFC 8628 §3.2)")
	}
	showInstructions(stdout, da)

	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		// DeviceAccessToken stops at da.Expiry with the context's deadline.
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return errors.New("expired_token: the code expired before anyone approved it; run the command again")
		}
		return describe("token request", err)
	}
	fmt.Fprintln(stdout, "\nSigned in. Token response:")
	return printToken(stdout, tok)
}

// showInstructions tells the user where to go (RFC 8628 §3.3).
func showInstructions(w io.Writer, da *oauth2.DeviceAuthResponse) {
	fmt.Fprintf(w, "To sign in, open %s\nand enter the code: %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "\nOr open %s\nor scan this QR code with your phone:\n\n", da.VerificationURIComplete)
		fmt.Fprint(w, qrcode.Terminal(da.VerificationURIComplete))
	}
	interval := da.Interval
	if interval == 0 {
		interval = 5 // RFC 8628 §3.2 default
	}
	fmt.Fprintf(w, "\nWaiting for approval (checking every %ds", interval)
	if !da.Expiry.IsZero() {
		fmt.Fprintf(w, ", code valid until %s", da.Expiry.Local().Format(time.Kitchen))
	}
	fmt.Fprintln(w, "; Ctrl-C to give up)...")
}

// tokenOutput is the token response as printed.
type tokenOutput struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Expiry       string `json:"expiry,omitempty"`
	ExpiresIn    int64  `json:"expires_in,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func printToken(w io.Writer, tok *oauth2.Token) error {
	out := tokenOutput{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		ExpiresIn:    tok.ExpiresIn,
	}
	if !tok.Expiry.IsZero() {
		out.Expiry = tok.Expiry.Format(time.RFC3339)
	}
	if s, ok := tok.Extra("id_token").(string); ok {
		out.IDToken = s
	}
	if s, ok := tok.Extra("scope").(string); ok {
		out.Scope = s
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// explanations say in plain words what the RFC 6749 §5.2 and RFC 8628 §3.5
// error codes mean for the person running the client.
var explanations = map[string]string{
	"access_denied":          "the user declined",
	"expired_token":          "the code expired before anyone approved it; run the command again",
	"invalid_client":         "the server did not accept the client; check -client-id and -client-secret",
	"unauthorized_client":    "this client is not allowed to use the device grant",
	"invalid_scope":          "the server refused the requested scope; check -scope",
	"invalid_request":        "the server rejected the request as malformed",
	"invalid_grant":          "the device code is not valid (already used or unknown)",
	"unsupported_grant_type": "the token endpoint does not support the device grant",
	"slow_down":              "the server asked the client to poll less often",
}

// describe turns an x/oauth2 error into one line: the RFC error code, what
// it means, and the server's own description when it gave one.
func describe(step string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", step, err)
	}
	code, desc := re.ErrorCode, re.ErrorDescription
	if code == "" {
		// DeviceAuth does not parse error bodies (RFC 6749 §5.2); do it here.
		var body struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			code, desc = body.Code, body.Description
		}
	}
	if code == "" {
		status := ""
		if re.Response != nil {
			status = re.Response.Status
		}
		return fmt.Errorf("%s failed: HTTP %s", step, status)
	}
	msg := explanations[code]
	if msg == "" {
		msg = "the server refused the " + step
	}
	if desc != "" {
		msg += fmt.Sprintf(" (server says: %s)", desc)
	}
	return &grantError{code: code, msg: msg, err: err}
}

// grantError is an OAuth error response, printed as "code: explanation".
type grantError struct {
	code, msg string
	err       error
}

func (e *grantError) Error() string { return e.code + ": " + e.msg }
func (e *grantError) Unwrap() error { return e.err }

// withBasicAuth returns a client that adds HTTP Basic client authentication
// (RFC 6749 §2.3.1, with the form-encoding it requires) to POST requests for
// endpoint that carry none.
func withBasicAuth(c *http.Client, endpoint, id, secret string) *http.Client {
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	target, err := url.Parse(endpoint)
	if err != nil {
		return c // the request itself will then fail with a clear error
	}
	cc := *c
	cc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && r.URL.Scheme == target.Scheme && r.URL.Host == target.Host &&
			r.URL.Path == target.Path && r.Header.Get("Authorization") == "" {
			r = r.Clone(r.Context())
			r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		}
		return base.RoundTrip(r)
	})
	return &cc
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
