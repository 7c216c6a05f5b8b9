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
	// DPoP asks for tokens bound to a key this run makes (RFC 9449): every token request carries a
	// proof, and the access token is then tried at userinfo as a DPoP token.
	DPoP bool
	// HTTPClient makes every request; nil means a client with a 30-second
	// timeout per request (x/oauth2's DeviceAuth ignores the context).
	HTTPClient *http.Client
	// Sleep waits between polls and Now tells the time; nil means a timer and time.Now. Tests move
	// a clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
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
	fs.BoolVar(&opts.DPoP, "dpop", false, "bind the tokens to a key made for this run (DPoP, RFC 9449), and call userinfo with them; -client-id demo-dpop requires it")
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
// server at opts.Issuer: it asks for a device code with golang.org/x/oauth2,
// shows the user code, the verification URIs and a QR code of
// verification_uri_complete (§3.3.1), polls the token endpoint until the user
// decides (§3.4, §3.5) while showing the time left, the checks made and the
// interval, and prints the token response as JSON.
func runDevice(ctx context.Context, opts deviceOptions, stdout io.Writer) error {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	md, err := discover(ctx, client, opts.Issuer)
	if err != nil {
		return err
	}
	if md.DeviceAuthorizationEndpoint == "" {
		return &failure{msg: fmt.Sprintf("The server at %s does not offer the device grant (no device_authorization_endpoint in its discovery document); check -issuer.", opts.Issuer)}
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
	authClient := client
	if opts.ClientSecret != "" {
		if opts.AuthMethod == "client_secret_post" {
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			// DeviceAuth sends only client_id; add the secret to the body.
			authOpts = append(authOpts, oauth2.SetAuthURLParam("client_secret", opts.ClientSecret))
		} else {
			// DeviceAuth has no header auth of its own; RFC 8628 §3.1 lets a
			// confidential client authenticate there as at the token endpoint.
			authClient = withBasicAuth(client, md.DeviceAuthorizationEndpoint, opts.ClientID, opts.ClientSecret)
		}
	}
	da, err := cfg.DeviceAuth(context.WithValue(ctx, oauth2.HTTPClient, authClient), authOpts...)
	if err != nil {
		return describe(opts.Issuer, err)
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return &failure{msg: "The server's answer lacks device_code, user_code or verification_uri (RFC 8628 §3.2); it is not a device grant server."}
	}
	expiry := time.Time{}
	if !da.Expiry.IsZero() {
		// x/oauth2 computed Expiry with the real clock; count it on ours.
		expiry = opts.Now().Add(time.Until(da.Expiry).Round(time.Second))
	}
	showInstructions(stdout, da)

	tokenClient := client
	if opts.DPoP {
		if tokenClient, _, err = withDPoP(client); err != nil {
			return err
		}
	}
	auth := clientAuth{ID: opts.ClientID, Secret: opts.ClientSecret, Post: opts.AuthMethod == "client_secret_post"}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}}
	tok, err := pollToken(ctx, pollConfig{
		client: tokenClient, endpoint: md.TokenEndpoint, auth: auth, form: form, issuer: opts.Issuer,
		interval: time.Duration(da.Interval) * time.Second, expiry: expiry, sleep: opts.Sleep, now: opts.Now,
		progress: newProgress(stdout, opts.Now), what: "approval",
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nSigned in. Token response:")
	if err := printTokens(stdout, tok, opts.Now); err != nil || !opts.DPoP {
		return err
	}
	return showUserinfo(ctx, tokenClient, md.UserinfoEndpoint, tok, stdout)
}

// pollConfig configures pollToken.
type pollConfig struct {
	client   *http.Client
	endpoint string
	auth     clientAuth
	form     url.Values
	issuer   string
	// interval is the server's polling interval (0 means 5 s, RFC 8628 §3.2 and CIBA Core §7.3);
	// expiry when the request stops being valid (zero: unknown).
	interval time.Duration
	expiry   time.Time
	// first polls at once (after a CIBA ping the tokens are ready).
	first    bool
	sleep    func(ctx context.Context, d time.Duration) error
	now      func() time.Time
	progress progress
	what     string
}

// pollToken polls the token endpoint until the request is decided (RFC 8628 §3.4, §3.5; CIBA Core
// §10.1, §11): it waits the interval between polls, adds 5 seconds for good after each slow_down, and
// shows the progress. Failures are one sentence (see failure).
func pollToken(ctx context.Context, c pollConfig) (*tokenResponse, error) {
	st := waitStatus{What: c.what, Expiry: c.expiry, Interval: c.interval}
	if st.Interval <= 0 {
		st.Interval = 5 * time.Second
	}
	c.progress.Update(st)
	defer c.progress.Done()
	for first := c.first; ; first = false {
		if !first {
			if err := c.sleep(ctx, st.Interval); err != nil {
				return nil, err
			}
		}
		if !c.expiry.IsZero() && !c.now().Before(c.expiry) {
			return nil, &failure{code: "expired_token", msg: "The request expired before anyone approved it; run the command again to get a new one."}
		}
		var tok tokenResponse
		err := postForm(ctx, c.client, c.endpoint, c.auth, c.form, &tok)
		st.Polls++
		var oe *oauthErr
		switch {
		case err == nil:
			st.LastAnswer = "approved"
			c.progress.Update(st)
			return &tok, nil
		case errors.As(err, &oe) && oe.Code == "authorization_pending":
			st.LastAnswer = "not approved yet"
		case errors.As(err, &oe) && oe.Code == "slow_down":
			st.Interval += 5 * time.Second
			st.SlowDowns++
			st.LastAnswer = "asked to slow down"
		default:
			return nil, describeFailure(c.issuer, err)
		}
		c.progress.Update(st)
	}
}

// showInstructions tells the user where to go (RFC 8628 §3.3).
func showInstructions(w io.Writer, da *oauth2.DeviceAuthResponse) {
	fmt.Fprintf(w, "To sign in, open %s\nand enter the code: %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "\nOr open %s\nor scan this QR code with your phone:\n\n", da.VerificationURIComplete)
		fmt.Fprint(w, qrcode.Terminal(da.VerificationURIComplete))
	}
	fmt.Fprintln(w, "\nCtrl-C to give up.")
}

// tokenResponse is a token response (RFC 6749 §5.1, OIDC Core §3.1.3.3), or a CIBA push callback
// (CIBA Core §10.3.1, §12).
type tokenResponse struct {
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

func printTokens(w io.Writer, tok *tokenResponse, now func() time.Time) error {
	out := tokenOutput{
		AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken,
		IDToken: tok.IDToken, ExpiresIn: tok.ExpiresIn, Scope: tok.Scope,
	}
	if tok.ExpiresIn > 0 {
		out.Expiry = now().Add(time.Duration(tok.ExpiresIn) * time.Second).Format(time.RFC3339)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// describe turns an error of x/oauth2's DeviceAuth into one sentence.
func describe(issuer string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return describeFailure(issuer, err)
	}
	e := &oauthErr{Code: re.ErrorCode, Description: re.ErrorDescription}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
		e.RetryAfter = re.Response.Header.Get("Retry-After")
	}
	if e.Code == "" {
		// DeviceAuth does not parse error bodies (RFC 6749 §5.2); do it here.
		_ = json.Unmarshal(re.Body, e)
	}
	return explain(e)
}

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
