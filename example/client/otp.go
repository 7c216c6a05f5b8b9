package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

func init() {
	commands["otp"] = command{summary: "sign in with a one-time code sent by text or e-mail (the OTP grant)", run: otpCommand}
}

// otpGrantType is the OTP grant's default grant type (handler/otp.DefaultGrantType).
const otpGrantType = "https://github.com/fosite-contrib/grants/grant-type/otp"

// otpOptions configures runOTP.
type otpOptions struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	LoginHint    string
	Scopes       []string
	// Channel, when set, is sent as channel_hint and skips the channel prompt.
	Channel string
	// In is where the person's answers are read from; nil means os.Stdin.
	In io.Reader
	// HTTPClient makes every request; nil means a client with a 30-second timeout.
	HTTPClient *http.Client
}

// otpChannel is one delivery option of the challenge response.
type otpChannel struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Destination string `json:"destination"`
}

// otpChallenge is the challenge endpoint's answer.
type otpChallenge struct {
	OOBCode   string       `json:"oob_code"`
	ExpiresIn int64        `json:"expires_in"`
	Channels  []otpChannel `json:"channels"`
	Channel   string       `json:"channel"`
	Interval  int64        `json:"interval"`
}

func otpCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("otp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := otpOptions{}
	var scope string
	fs.StringVar(&opts.Issuer, "issuer", "http://127.0.0.1:8080", "issuer URL of the authorization server")
	fs.StringVar(&opts.ClientID, "client-id", "demo-kiosk", "OAuth client ID (a confidential client)")
	fs.StringVar(&opts.ClientSecret, "client-secret", "demo-kiosk-secret", "client secret")
	fs.StringVar(&opts.LoginHint, "login-hint", "", "the person's identifier: service address, account number, phone or e-mail (required)")
	fs.StringVar(&opts.Channel, "channel", "", "channel ID or type (sms, email) to skip the prompt")
	fs.StringVar(&scope, "scope", "openid profile usage:read", "space-separated scopes to request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: client otp -login-hint IDENTIFIER [flags]")
		fmt.Fprintln(stderr, "\nAsks the server to send a one-time code, prompts for the channel and the code, and prints the tokens.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if opts.LoginHint == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	opts.Scopes = strings.Fields(scope)
	return runOTP(ctx, opts, stdout)
}

// runOTP runs the OTP grant: identify, pick a channel, send, type the code, redeem.
func runOTP(ctx context.Context, o otpOptions, out io.Writer) error {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	in := o.In
	if in == nil {
		in = os.Stdin
	}
	answers := bufio.NewScanner(in)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(out, prompt)
		if !answers.Scan() {
			if err := answers.Err(); err != nil {
				return "", err
			}
			return "", errors.New("no answer (end of input)")
		}
		return strings.TrimSpace(answers.Text()), nil
	}

	var meta struct {
		TokenEndpoint string   `json:"token_endpoint"`
		Challenge     string   `json:"otp_challenge_endpoint"`
		GrantTypes    []string `json:"grant_types_supported"`
	}
	if err := otpGetJSON(ctx, hc, strings.TrimSuffix(o.Issuer, "/")+"/.well-known/openid-configuration", &meta); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if meta.Challenge == "" || meta.TokenEndpoint == "" {
		return errors.New("discovery: the server publishes no otp_challenge_endpoint or token_endpoint")
	}
	grantType := otpGrantType
	for _, g := range meta.GrantTypes {
		if strings.HasSuffix(g, "/grant-type/otp") || strings.HasSuffix(g, ":grant-type:otp") {
			grantType = g
		}
	}

	form := url.Values{"login_hint": {o.LoginHint}, "scope": {strings.Join(o.Scopes, " ")}}
	if o.Channel != "" {
		form.Set("channel_hint", o.Channel)
	}
	var ch otpChallenge
	if err := otpPost(ctx, hc, o, meta.Challenge, form, &ch); err != nil {
		return err
	}
	if o.Channel == "" {
		fmt.Fprintln(out, "Where should the code go?")
		for i, c := range ch.Channels {
			fmt.Fprintf(out, "  %d) %s to %s\n", i+1, c.Type, c.Destination)
		}
		var pick *otpChannel
		for pick == nil {
			a, err := ask("Choose a number: ")
			if err != nil {
				return err
			}
			for i := range ch.Channels {
				if a == fmt.Sprint(i+1) || a == ch.Channels[i].ID || a == ch.Channels[i].Type {
					pick = &ch.Channels[i]
					break
				}
			}
		}
		var sent otpChallenge
		if err := otpPost(ctx, hc, o, meta.Challenge, url.Values{"oob_code": {ch.OOBCode}, "channel": {pick.ID}}, &sent); err != nil {
			return err
		}
		fmt.Fprintf(out, "A code was sent by %s to %s; it expires in %d seconds.\n", pick.Type, pick.Destination, sent.ExpiresIn)
	} else {
		fmt.Fprintf(out, "A code was sent on %s; it expires in %d seconds.\n", ch.Channel, ch.ExpiresIn)
	}

	for {
		code, err := ask("Code: ")
		if err != nil {
			return err
		}
		var tok map[string]interface{}
		err = otpPost(ctx, hc, o, meta.TokenEndpoint, url.Values{"grant_type": {grantType}, "oob_code": {ch.OOBCode}, "binding_code": {code}}, &tok)
		var oe *otpError
		if errors.As(err, &oe) && oe.Code == "invalid_grant" && strings.Contains(oe.Description, "attempts are left") {
			fmt.Fprintln(out, oe.Description)
			continue
		}
		if err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(tok)
	}
}

// otpError is an RFC 6749 §5.2 error answer.
type otpError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *otpError) Error() string { return e.Code + ": " + e.Description }

func otpPost(ctx context.Context, hc *http.Client, o otpOptions, endpoint string, form url.Values, out interface{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret)) // RFC 6749 §2.3.1
	return otpDo(hc, req, out)
}

func otpGetJSON(ctx context.Context, hc *http.Client, u string, out interface{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	return otpDo(hc, req, out)
}

func otpDo(hc *http.Client, req *http.Request, out interface{}) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e otpError
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				e.Description += " (retry after " + ra + " seconds)"
			}
			return &e
		}
		return fmt.Errorf("%s answered %s", req.URL, resp.Status)
	}
	return json.Unmarshal(body, out)
}
