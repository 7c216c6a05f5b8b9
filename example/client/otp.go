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
	"strconv"
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
	if strings.TrimSpace(opts.LoginHint) == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	opts.Scopes = strings.Fields(scope)
	return runOTP(ctx, opts, stdout)
}

// runOTP runs the OTP grant: identify, pick a channel, send, type the code, redeem. An answer that is
// not one of the choices, or is empty, is asked again with a word on why; a wrong code is asked again
// with the tries left.
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
	ask := func(prompt, empty string) (string, error) {
		for {
			fmt.Fprint(out, prompt)
			if !answers.Scan() {
				if err := answers.Err(); err != nil {
					return "", err
				}
				return "", &failure{msg: "No answer was typed (the input ended); run the command again."}
			}
			if a := strings.TrimSpace(answers.Text()); a != "" {
				return a, nil
			}
			fmt.Fprintln(out, empty)
		}
	}

	var meta struct {
		TokenEndpoint string   `json:"token_endpoint"`
		Challenge     string   `json:"otp_challenge_endpoint"`
		GrantTypes    []string `json:"grant_types_supported"`
	}
	if err := otpGetJSON(ctx, hc, strings.TrimSuffix(o.Issuer, "/")+"/.well-known/openid-configuration", &meta); err != nil {
		return describeFailure(o.Issuer, err)
	}
	if meta.Challenge == "" || meta.TokenEndpoint == "" {
		return &failure{msg: fmt.Sprintf("The server at %s does not offer the one-time-code grant (no otp_challenge_endpoint in its discovery document); check -issuer.", o.Issuer)}
	}
	grantType := otpGrantType
	for _, g := range meta.GrantTypes {
		if strings.HasSuffix(g, "/grant-type/otp") || strings.HasSuffix(g, ":grant-type:otp") {
			grantType = g
		}
	}
	auth := clientAuth{ID: o.ClientID, Secret: o.ClientSecret}

	form := url.Values{"login_hint": {o.LoginHint}, "scope": {strings.Join(o.Scopes, " ")}}
	if o.Channel != "" {
		form.Set("channel_hint", o.Channel)
	}
	var ch otpChallenge
	if err := postForm(ctx, hc, meta.Challenge, auth, form, &ch); err != nil {
		return describeFailure(o.Issuer, err)
	}
	if o.Channel == "" {
		if len(ch.Channels) == 0 {
			return &failure{msg: "The server offered no way to send a code to that person; check -login-hint."}
		}
		fmt.Fprintln(out, "Where should the code go?")
		for i, c := range ch.Channels {
			fmt.Fprintf(out, "  %d) %s to %s\n", i+1, channelWords(c.Type), c.Destination)
		}
		var pick *otpChannel
		for pick == nil {
			a, err := ask(fmt.Sprintf("Choose 1 to %d: ", len(ch.Channels)), "Type a number from the list, then press Enter.")
			if err != nil {
				return err
			}
			for i := range ch.Channels {
				if a == fmt.Sprint(i+1) || a == ch.Channels[i].ID || a == ch.Channels[i].Type {
					pick = &ch.Channels[i]
					break
				}
			}
			if pick == nil {
				fmt.Fprintf(out, "%q is not one of the choices: type a number from 1 to %d.\n", a, len(ch.Channels))
			}
		}
		var sent otpChallenge
		if err := postForm(ctx, hc, meta.Challenge, auth, url.Values{"oob_code": {ch.OOBCode}, "channel": {pick.ID}}, &sent); err != nil {
			return describeFailure(o.Issuer, err)
		}
		fmt.Fprintf(out, "A code was sent by %s to %s; it works for %s.\n", channelWords(pick.Type), pick.Destination, durationWords(sent.ExpiresIn))
	} else {
		fmt.Fprintf(out, "A code was sent on %s; it works for %s.\n", ch.Channel, durationWords(ch.ExpiresIn))
	}

	for {
		code, err := ask("Code: ", "Type the code from the message, then press Enter.")
		if err != nil {
			return err
		}
		var tok map[string]interface{}
		err = postForm(ctx, hc, meta.TokenEndpoint, auth, url.Values{"grant_type": {grantType}, "oob_code": {ch.OOBCode}, "binding_code": {code}}, &tok)
		var oe *oauthErr
		if errors.As(err, &oe) && oe.Code == "invalid_grant" {
			if n := oe.AttemptsLeft; n != nil && *n > 0 {
				tries := strconv.Itoa(*n) + " tries"
				if *n == 1 {
					tries = "1 try"
				}
				fmt.Fprintf(out, "That code is not right; %s left. Check the message and type it again.\n", tries)
				continue
			}
			if strings.Contains(oe.Description, "Start a new one") {
				return &failure{code: oe.Code, err: err, msg: "Too many wrong codes: this code no longer works; run the command again to get a new one."}
			}
			if strings.Contains(oe.Description, "already been used") {
				return &failure{code: oe.Code, err: err, msg: "That code was already used; run the command again to get a new one."}
			}
		}
		if err != nil {
			return describeFailure(o.Issuer, err)
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(tok)
	}
}

// channelWords names a delivery channel for a person.
func channelWords(t string) string {
	switch t {
	case "sms":
		return "text message"
	case "email":
		return "e-mail"
	case "voice":
		return "phone call"
	}
	return t
}

// durationWords says "10 minutes" for seconds.
func durationWords(secs int64) string {
	switch {
	case secs <= 0:
		return "a short while"
	case secs < 120:
		return fmt.Sprintf("%d seconds", secs)
	}
	return fmt.Sprintf("%d minutes", secs/60)
}

func otpGetJSON(ctx context.Context, hc *http.Client, u string, out interface{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
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
		return &failure{msg: fmt.Sprintf("%s answered %s; check -issuer.", u, resp.Status)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &failure{msg: fmt.Sprintf("%s is not JSON; check -issuer.", u), err: err}
	}
	return nil
}
