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
	Binding      string
	// Listen is the host:port the ping/push callback receiver listens on; CallbackPath its path.
	Listen       string
	CallbackPath string
	// HTTPClient makes every request; nil means a client with a 30-second timeout.
	HTTPClient *http.Client
	// Sleep waits between polls; nil means a timer. Tests use it to move a clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
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
	fs.StringVar(&opts.LoginHint, "login-hint", "", "who should approve: a user name or e-mail address (login_hint)")
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
	if opts.ClientID == "" {
		opts.ClientID = "demo-ciba-" + opts.Mode
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

// cibaTokens is a token response (OIDC Core §3.1.3.3), or a push callback (CIBA Core §10.3.1, §12).
type cibaTokens struct {
	AuthReqID    string `json:"auth_req_id,omitempty"`
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ExpiresIn    int64  `json:"expires_in,omitempty"`
	Scope        string `json:"scope,omitempty"`
	Error        string `json:"error,omitempty"`
	Description  string `json:"error_description,omitempty"`
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
	md, err := discoverCIBA(ctx, client, opts.Issuer)
	if err != nil {
		return err
	}
	if len(md.BackchannelDeliveryModes) > 0 && !contains(md.BackchannelDeliveryModes, opts.Mode) {
		return fmt.Errorf("discovery: %s does not support the %s delivery mode (it supports %s)", opts.Issuer, opts.Mode, strings.Join(md.BackchannelDeliveryModes, ", "))
	}
	form := url.Values{"scope": {strings.Join(opts.Scopes, " ")}}
	if opts.LoginHint != "" {
		form.Set("login_hint", opts.LoginHint)
	}
	binding := opts.Binding
	if binding == "" {
		binding = randomBinding()
	}
	form.Set("binding_message", binding)

	// Ping and push: listen before asking, so no callback can come before we are ready.
	var callbacks <-chan cibaTokens
	if opts.Mode != "poll" {
		token, err := randomToken()
		if err != nil {
			return err
		}
		form.Set("client_notification_token", token)
		ln := opts.Listener
		if ln == nil {
			if ln, err = net.Listen("tcp", opts.Listen); err != nil {
				return fmt.Errorf("listening for %s callbacks on %s (the address the server has registered for %s): %w", opts.Mode, opts.Listen, opts.ClientID, err)
			}
		}
		ch := make(chan cibaTokens, 4)
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
	if err := postForm(ctx, client, md.BackchannelEndpoint, opts, form, &ack); err != nil {
		return describeCIBA("backchannel authentication request", err)
	}
	if ack.AuthReqID == "" || ack.ExpiresIn <= 0 {
		return errors.New("the acknowledgement lacks auth_req_id or expires_in (CIBA Core §7.3)")
	}
	deadline := time.Now().Add(time.Duration(ack.ExpiresIn) * time.Second)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if ack.UserCode != "" && ack.VerificationURI != "" {
		fmt.Fprintf(stdout, "%s cannot be reached on a device yet. To link one and approve, open %s\nand enter the code: %s\n", hintOrUser(opts.LoginHint), ack.VerificationURI, ack.UserCode)
		if ack.VerificationURIComplete != "" {
			fmt.Fprintf(stdout, "\nOr open %s\nor scan this QR code with your phone:\n\n", ack.VerificationURIComplete)
			fmt.Fprint(stdout, qrcode.Terminal(ack.VerificationURIComplete))
		}
	} else {
		fmt.Fprintf(stdout, "Asked %s to approve on their device.\n", hintOrUser(opts.LoginHint))
	}
	fmt.Fprintf(stdout, "Binding message: %s (check that the device shows the same)\n", binding)
	fmt.Fprintf(stdout, "Waiting (%s mode, request valid for %ds; Ctrl-C to give up)...\n", opts.Mode, ack.ExpiresIn)

	var tok *cibaTokens
	switch opts.Mode {
	case "poll":
		tok, err = pollCIBA(ctx, client, md.TokenEndpoint, opts, ack)
	case "ping":
		if err = awaitCallback(ctx, callbacks, ack.AuthReqID, nil); err == nil {
			fmt.Fprintln(stdout, "Pinged; fetching the tokens.")
			tok, err = pollCIBA(ctx, client, md.TokenEndpoint, opts, ack)
		}
	case "push":
		var pushed cibaTokens
		if err = awaitCallback(ctx, callbacks, ack.AuthReqID, &pushed); err == nil {
			if pushed.Error != "" {
				err = &grantError{code: pushed.Error, msg: explainCIBA(pushed.Error, pushed.Description)}
			} else {
				tok = &pushed
			}
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errors.New("expired_token: nobody approved before the request expired; run the command again")
		}
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

// pollCIBA polls the token endpoint (CIBA Core §10.1) until the request is decided: it waits the
// interval between polls and adds 5 seconds after slow_down (§11).
func pollCIBA(ctx context.Context, client *http.Client, tokenURL string, opts cibaOptions, ack cibaAck) (*cibaTokens, error) {
	interval := time.Duration(ack.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // CIBA Core §7.3 default
	}
	form := url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {ack.AuthReqID}}
	first := opts.Mode == "ping" // after a ping the tokens are ready: ask at once
	for {
		if !first {
			if err := opts.Sleep(ctx, interval); err != nil {
				return nil, err
			}
		}
		first = false
		var tok cibaTokens
		err := postForm(ctx, client, tokenURL, opts, form, &tok)
		var oe *oauthErr
		switch {
		case err == nil:
			return &tok, nil
		case errors.As(err, &oe) && oe.Code == "authorization_pending":
		case errors.As(err, &oe) && oe.Code == "slow_down":
			interval += 5 * time.Second
		default:
			return nil, describeCIBA("token request", err)
		}
	}
}

// awaitCallback waits for the callback about authReqID; into, when not nil, receives a push body.
func awaitCallback(ctx context.Context, ch <-chan cibaTokens, authReqID string, into *cibaTokens) error {
	for {
		select {
		case <-ctx.Done():
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
func callbackHandler(path, token string, ch chan<- cibaTokens) http.Handler {
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
		var cb cibaTokens
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

// oauthErr is an RFC 6749 §5.2 error answer.
type oauthErr struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *oauthErr) Error() string { return fmt.Sprintf("HTTP %d %s", e.Status, e.Code) }

// postForm POSTs form with HTTP Basic client authentication (RFC 6749 §2.3.1) and decodes a 200 JSON
// answer into out; any other answer is an *oauthErr.
func postForm(ctx context.Context, client *http.Client, endpoint string, opts cibaOptions, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(opts.ClientID), url.QueryEscape(opts.ClientSecret))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &oauthErr{Status: resp.StatusCode}
		_ = json.Unmarshal(body, e)
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s answered something that is not JSON: %w", endpoint, err)
	}
	return nil
}

// cibaExplanations say what the CIBA Core §11 and §13 error codes mean for the person running the
// client.
var cibaExplanations = map[string]string{
	"access_denied":            "the user declined",
	"expired_token":            "nobody approved before the request expired; run the command again",
	"invalid_client":           "the server did not accept the client; check -client-id and -client-secret",
	"unauthorized_client":      "this client may not use CIBA, or not in this delivery mode",
	"invalid_scope":            "the server refused the requested scope; check -scope",
	"invalid_request":          "the server rejected the request as malformed",
	"invalid_grant":            "the auth_req_id is not valid (already used, or another client's)",
	"unknown_user_id":          "the server knows no user by that -login-hint",
	"expired_login_hint_token": "the login hint token has expired",
	"invalid_binding_message":  "the server refused the binding message; make it shorter and plainer",
	"missing_user_code":        "the server requires a user_code for this client",
	"invalid_user_code":        "the user_code is wrong",
	"transaction_failed":       "the server could not complete the sign-in",
}

func explainCIBA(code, desc string) string {
	msg := cibaExplanations[code]
	if msg == "" {
		msg = "the server refused"
	}
	if desc != "" {
		msg += fmt.Sprintf(" (server says: %s)", desc)
	}
	return msg
}

func describeCIBA(step string, err error) error {
	var oe *oauthErr
	if !errors.As(err, &oe) {
		return fmt.Errorf("%s: %w", step, err)
	}
	if oe.Code == "" {
		return fmt.Errorf("%s failed: HTTP %d", step, oe.Status)
	}
	return &grantError{code: oe.Code, msg: explainCIBA(oe.Code, oe.Description), err: err}
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
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	var md cibaMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(&md); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	md.TokenEndpoint = base.TokenEndpoint
	if md.BackchannelEndpoint == "" {
		return nil, fmt.Errorf("discovery: %s does not advertise a backchannel_authentication_endpoint (CIBA Core §4); it does not support CIBA", issuer)
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
