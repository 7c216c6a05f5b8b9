package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fosite-contrib/grants/internal/qrcode"
)

func init() {
	commands["ciba"] = command{summary: "sign in with OpenID CIBA (poll, ping or push)", run: cibaCommand}
}

// The demo's CIBA clients on the bundled example server, one per token delivery mode. DEMO: their
// secret is published.
const demoCIBASecret = "demo-ciba-secret"

// cibaListen are the notification endpoints the example server registered for the demo ping and push
// clients (CIBA Core §4: backchannel_client_notification_endpoint is fixed at registration).
var cibaListen = map[string]string{"ping": "127.0.0.1:8091", "push": "127.0.0.1:8092"}

// cibaOptions configures runCIBA.
type cibaOptions struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Mode         string // poll, ping or push
	Scopes       []string
	LoginHint    string
	// LoginHintToken, when set, names the user with a signed login_hint_token instead ("format:value",
	// see subjectIdentifier); UserCode is the user's CIBA user code, for clients registered to send it.
	LoginHintToken string
	UserCode       string
	Binding        string
	// Listen is the host:port the ping/push callback receiver listens on; CallbackPath its path.
	Listen       string
	CallbackPath string
	// HTTPClient makes every request; nil means a client with a 30-second timeout.
	HTTPClient *http.Client
	// Sleep waits between polls and Now tells the time; nil means a timer and time.Now. Tests move a
	// clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
	// Listener, when set, is used instead of listening on Listen (tests).
	Listener net.Listener
}

// cibaCommand parses the flags of the ciba subcommand and runs it.
func cibaCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ciba", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := cibaOptions{}
	var scope string
	fs.StringVar(&opts.Issuer, "issuer", "http://127.0.0.1:8080", "issuer URL of the authorization server")
	fs.StringVar(&opts.Mode, "mode", "poll", "token delivery mode: poll, ping or push")
	fs.StringVar(&opts.ClientID, "client-id", "", "OAuth client ID (default demo-ciba-<mode>)")
	fs.StringVar(&opts.ClientSecret, "client-secret", demoCIBASecret, "client secret (client_secret_basic)")
	fs.StringVar(&opts.LoginHint, "login-hint", "", "who should approve: a user name, e-mail address or phone number (login_hint)")
	fs.StringVar(&opts.LoginHintToken, "login-hint-token", "", "who should approve, as a signed login_hint_token (client demo-ciba-token): `format:value`, e.g. email:dave@example.com, phone_number:+15550100004, opaque:dave")
	fs.StringVar(&opts.UserCode, "user-code", "", "the user's CIBA user code, set on the server's /account page (client demo-ciba-code)")
	fs.StringVar(&opts.Binding, "binding-message", "", "binding_message to show on both devices (default: a random code)")
	fs.StringVar(&scope, "scope", "openid profile email offline_access", "space-separated scopes to request")
	fs.StringVar(&opts.Listen, "listen", "", "host:port for ping/push callbacks (default 127.0.0.1:8091 for ping, 127.0.0.1:8092 for push)")
	fs.StringVar(&opts.CallbackPath, "callback-path", "/cb", "path of the ping/push callback")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: client ciba [flags]")
		fmt.Fprintln(stderr, "\nSigns in with OpenID CIBA: asks the server to reach the user on their authentication")
		fmt.Fprintln(stderr, "device, then waits for the tokens by polling (poll), by a ping then one token request")
		fmt.Fprintln(stderr, "(ping), or by receiving them (push). When the server answers with a user code instead")
		fmt.Fprintln(stderr, "(the enrolment fallback), it shows the code, the link and a QR code, then waits.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "client ciba: "+format+"\n", a...)
		fs.Usage()
		return errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	switch opts.Mode {
	case "poll", "ping", "push":
	default:
		return bad("unknown -mode %q (want poll, ping or push)", opts.Mode)
	}
	if opts.LoginHint != "" && opts.LoginHintToken != "" {
		return bad("pass -login-hint or -login-hint-token, not both")
	}
	if opts.LoginHintToken != "" {
		if _, err := subjectIdentifier(opts.LoginHintToken); err != nil {
			return bad("-login-hint-token: %v", err)
		}
	}
	if opts.ClientID == "" {
		switch {
		case opts.LoginHintToken != "" && opts.Mode == "poll":
			opts.ClientID = "demo-ciba-token" // the demo client with a registered key
		case opts.UserCode != "" && opts.Mode == "poll":
			opts.ClientID = "demo-ciba-code" // the demo client registered for user codes
		default:
			opts.ClientID = "demo-ciba-" + opts.Mode
		}
	}
	if opts.Listen == "" {
		opts.Listen = cibaListen[opts.Mode]
	}
	opts.Scopes = strings.Fields(scope)
	return runCIBA(ctx, opts, stdout)
}

// cibaMetadata is the part of the discovery document (CIBA Core §4) the ciba command reads.
type cibaMetadata struct {
	Issuer                    string   `json:"issuer"`
	TokenEndpoint             string   `json:"token_endpoint"`
	BackchannelEndpoint       string   `json:"backchannel_authentication_endpoint"`
	BackchannelDeliveryModes  []string `json:"backchannel_token_delivery_modes_supported"`
	BackchannelUserCodeParams bool     `json:"backchannel_user_code_parameter_supported"`
}

// cibaAck is the acknowledgement of CIBA Core §7.3, with the enrolment fallback's members (this
// module's extension, shaped like RFC 8628 §3.2).
type cibaAck struct {
	AuthReqID               string `json:"auth_req_id"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
}

// runCIBA runs one CIBA sign-in (CIBA Core §7–§11) and prints the tokens as JSON.
func runCIBA(ctx context.Context, opts cibaOptions, stdout io.Writer) error {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	// Never follow redirects: a token endpoint answering 3xx is not to be trusted with the secret.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client = &c
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	md, err := discoverCIBA(ctx, client, opts.Issuer)
	if err != nil {
		return err
	}
	if len(md.BackchannelDeliveryModes) > 0 && !contains(md.BackchannelDeliveryModes, opts.Mode) {
		return &failure{msg: fmt.Sprintf("The server at %s does not deliver tokens in %s mode (it supports %s); pass -mode with one of those.", opts.Issuer, opts.Mode, strings.Join(md.BackchannelDeliveryModes, ", "))}
	}
	form := url.Values{"scope": {strings.Join(opts.Scopes, " ")}}
	if opts.LoginHint != "" {
		form.Set("login_hint", opts.LoginHint)
	}
	if opts.LoginHintToken != "" {
		tok, err := signLoginHintToken(opts.Issuer, opts.LoginHintToken, opts.Now())
		if err != nil {
			return err
		}
		form.Set("login_hint_token", tok)
	}
	if opts.UserCode != "" {
		form.Set("user_code", opts.UserCode)
	}
	binding := opts.Binding
	if binding == "" {
		binding = randomBinding()
	}
	form.Set("binding_message", binding)
	auth := clientAuth{ID: opts.ClientID, Secret: opts.ClientSecret}

	// Ping and push: listen before asking, so no callback can come before we are ready.
	var callbacks <-chan tokenResponse
	if opts.Mode != "poll" {
		token, err := randomToken()
		if err != nil {
			return err
		}
		form.Set("client_notification_token", token)
		ln := opts.Listener
		if ln == nil {
			if ln, err = net.Listen("tcp", opts.Listen); err != nil {
				return &failure{err: err, msg: fmt.Sprintf("Cannot listen for %s callbacks on %s (the address the server calls %s back on): is another client still running there? Stop it, or start the server with -ciba-%s-url and pass the same address here with -listen.", opts.Mode, opts.Listen, opts.ClientID, opts.Mode)}
			}
		}
		ch := make(chan tokenResponse, 4)
		srv := &http.Server{Handler: callbackHandler(opts.CallbackPath, token, ch), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		// Shut down gracefully: the callback that ends the wait must still get its 204, or the server
		// would take its delivery for a failure and send it again.
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		callbacks = ch
	}

	var ack cibaAck
	if err := postForm(ctx, client, md.BackchannelEndpoint, auth, form, &ack); err != nil {
		return describeFailure(opts.Issuer, err)
	}
	if ack.AuthReqID == "" || ack.ExpiresIn <= 0 {
		return &failure{msg: "The server's acknowledgement lacks auth_req_id or expires_in (CIBA Core §7.3); it is not a CIBA server."}
	}
	expiry := opts.Now().Add(time.Duration(ack.ExpiresIn) * time.Second)
	if ack.UserCode != "" && ack.VerificationURI != "" {
		fmt.Fprintf(stdout, "%s cannot be reached on a device yet. To link one and approve, open %s\nand enter the code: %s\n", hintOrUser(opts.who()), ack.VerificationURI, ack.UserCode)
		if ack.VerificationURIComplete != "" {
			fmt.Fprintf(stdout, "\nOr open %s\nor scan this QR code with your phone:\n\n", ack.VerificationURIComplete)
			fmt.Fprint(stdout, qrcode.Terminal(ack.VerificationURIComplete))
		}
	} else {
		fmt.Fprintf(stdout, "Asked %s to approve on their device.\n", hintOrUser(opts.who()))
	}
	fmt.Fprintf(stdout, "Binding message: %s (check that the device shows the same)\n", binding)
	fmt.Fprintln(stdout, "Ctrl-C to give up.")

	poll := pollConfig{
		client: client, endpoint: md.TokenEndpoint, auth: auth, issuer: opts.Issuer,
		form:     url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {ack.AuthReqID}},
		interval: time.Duration(ack.Interval) * time.Second, expiry: expiry, sleep: opts.Sleep, now: opts.Now,
		what: "approval",
	}
	var tok *tokenResponse
	switch opts.Mode {
	case "poll":
		poll.progress = newProgress(stdout, opts.Now)
		tok, err = pollToken(ctx, poll)
	case "ping":
		if err = awaitCallback(ctx, stdout, opts, expiry, callbacks, ack.AuthReqID, nil); err == nil {
			fmt.Fprintln(stdout, "Pinged; fetching the tokens.")
			poll.first, poll.what = true, "the tokens"
			poll.progress = newProgress(stdout, opts.Now)
			tok, err = pollToken(ctx, poll)
		}
	case "push":
		var pushed tokenResponse
		if err = awaitCallback(ctx, stdout, opts, expiry, callbacks, ack.AuthReqID, &pushed); err == nil {
			if pushed.Error != "" {
				err = explain(&oauthErr{Code: pushed.Error, Description: pushed.Description})
			} else {
				tok = &pushed
			}
		}
	}
	if err != nil {
		return err
	}
	tok.AuthReqID, tok.Error, tok.Description = "", "", ""
	fmt.Fprintln(stdout, "\nSigned in. Tokens:")
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(tok)
}

func hintOrUser(hint string) string {
	if hint == "" {
		return "The user"
	}
	return strconv.Quote(hint)
}

// who is how the request named the user, for the messages.
func (o cibaOptions) who() string {
	if o.LoginHintToken != "" {
		return o.LoginHintToken
	}
	return o.LoginHint
}

// awaitCallback waits for the ping or push about authReqID until the request expires, showing the
// time left; into, when not nil, receives a push body.
func awaitCallback(ctx context.Context, stdout io.Writer, opts cibaOptions, expiry time.Time, ch <-chan tokenResponse, authReqID string, into *tokenResponse) error {
	p := newProgress(stdout, opts.Now)
	p.Update(waitStatus{What: "approval (the server will call back)", Expiry: expiry})
	defer p.Done()
	ctx, cancel := context.WithDeadline(ctx, time.Now().Add(expiry.Sub(opts.Now())))
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &failure{code: "expired_token", msg: "The request expired before anyone approved it; run the command again to get a new one."}
			}
			return ctx.Err()
		case cb := <-ch:
			if subtle.ConstantTimeCompare([]byte(cb.AuthReqID), []byte(authReqID)) != 1 {
				continue // about another request: not ours
			}
			if into != nil {
				*into = cb
			}
			return nil
		}
	}
}

// maxCallbackBytes bounds a callback body; a push carries three tokens.
const maxCallbackBytes = 64 << 10

// callbackHandler receives ping and push callbacks (CIBA Core §10.2, §10.3): a POST with
// "Authorization: Bearer <client_notification_token>" and a JSON body. It answers 204, or 401 when the
// token is not the one this client sent, and passes good bodies to ch.
func callbackHandler(path, token string, ch chan<- tokenResponse) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(rw, r)
			return
		}
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			rw.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(rw, "unauthorized", http.StatusUnauthorized)
			return
		}
		var cb tokenResponse
		if err := json.NewDecoder(io.LimitReader(r.Body, maxCallbackBytes)).Decode(&cb); err != nil || cb.AuthReqID == "" {
			http.Error(rw, "a JSON body with auth_req_id is required", http.StatusBadRequest)
			return
		}
		select {
		case ch <- cb:
		default: // nobody is waiting any more
		}
		rw.WriteHeader(http.StatusNoContent)
	})
}

// discoverCIBA fetches the discovery document and checks it names a backchannel endpoint.
func discoverCIBA(ctx context.Context, client *http.Client, issuer string) (*cibaMetadata, error) {
	base, err := discover(ctx, client, issuer) // checks the issuer and the token endpoint
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, unreachable(issuer, err)
	}
	defer resp.Body.Close()
	var md cibaMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(&md); err != nil {
		return nil, &failure{msg: fmt.Sprintf("The discovery document of %s is not JSON; check -issuer.", issuer), err: err}
	}
	md.TokenEndpoint = base.TokenEndpoint
	if md.BackchannelEndpoint == "" {
		return nil, &failure{msg: fmt.Sprintf("The server at %s does not offer CIBA (no backchannel_authentication_endpoint in its discovery document); check -issuer.", issuer)}
	}
	return &md, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// randomToken is a client_notification_token: 256 random bits (CIBA Core §7.1 asks for at least 128).
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// randomBinding is a short code the user compares on both devices (CIBA Core §7.1 binding_message).
func randomBinding() string {
	const alphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // a display code, not a secret: the slight bias is harmless
	}
	return string(b)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
