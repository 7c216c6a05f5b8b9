package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/otp"
)

// OTPOptions configure the example's OTP demo.
type OTPOptions struct {
	// Quotas override the send quotas (tests raise them); zero fields keep otp.DefaultQuotas.
	Quotas otp.Quotas
}

// DemoKioskSecret is demo-kiosk's client secret. DEMO: published in the README.
const DemoKioskSecret = "demo-kiosk-secret"

// otpChallengePath is where the challenge endpoint is mounted.
const otpChallengePath = "/oauth2/otp"

// otpScopes are the scopes the demo kiosk asks for, and otpScopeText their plain-language descriptions
// in the message the person receives.
var (
	otpScopes    = []string{"openid", "profile", "usage:read"}
	otpScopeText = otp.ScopeText{
		"openid": "Confirm who you are", "profile": "See your name", "email": "See your e-mail address",
		"offline_access": "Keep access while you are away", "usage:read": "See your energy use",
	}
)

func init() {
	titles["otp_kiosk"] = "Kiosk (demo client)"
}

// DEMO: the utility's customer records. Each customer is found by service address, account number,
// phone number or e-mail address, and can get a code by text or by e-mail.
type otpCustomer struct {
	subject, address, account, phone, email string
}

var otpCustomers = []otpCustomer{
	{subject: "alice", address: "1 Main St", account: "ACCT-1001", phone: "+15551234567", email: "alice@example.com"},
	{subject: "bob", address: "2 Oak Ave", account: "ACCT-1002", phone: "+15557654321", email: "bob@example.com"},
}

// otpDirectory implements otp.Directory over otpCustomers. Identifiers compare without case, spacing or
// (for phone numbers) punctuation.
var otpDirectory = otp.DirectoryFunc(func(_ context.Context, hint string) (*otp.Account, error) {
	key := otpKey(hint)
	for _, c := range otpCustomers {
		for _, id := range []string{c.address, c.account, c.phone, c.email} {
			if otpKey(id) == key {
				return &otp.Account{Subject: c.subject, Destinations: []otp.Destination{
					{Type: otp.SMS, Address: c.phone}, {Type: otp.Email, Address: c.email},
				}}, nil
			}
		}
	}
	return nil, otp.ErrUnknownAccount
})

func otpKey(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if strings.Trim(s, "+0123456789 -().") == "" { // a phone number: digits only
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	return strings.TrimSuffix(strings.ReplaceAll(s, "street", "st"), ".")
}

// otpOptions configure the OTP grant: the challenge endpoint, the demo's customer directory, the
// server's sender (the dev outbox unless Options.Sender is set) and audit log.
func (s *Server) otpOptions() otp.Options {
	return otp.Options{
		ChallengeURL: s.opts.Issuer + otpChallengePath,
		Quotas:       s.opts.OTP.Quotas,
		Directory:    otpDirectory,
		Sender:       s.sender,
		Scopes:       otpScopeText,
		Audit:        s.kiosk.auditLog,
		Policy:       s.policy(s.opts.Policy.OTP),
		NewSession: func(_ context.Context, info otp.SessionInfo) (fosite.Session, error) {
			sess := s.newSession(info.Subject, info.AuthTime)
			sess.Claims.AuthenticationMethodsReferences = []string{"otp"}
			return sess, nil
		},
		Now:    s.opts.Now,
		Logger: s.log,
	}
}

// setupOTP registers the OTP demo client.
func (s *Server) setupOTP(ctx context.Context) error {
	hash, err := (&fosite.BCrypt{Config: &fosite.Config{HashCost: 10}}).Hash(ctx, []byte(DemoKioskSecret))
	if err != nil {
		return err
	}
	// DEMO: a confidential first-party client with a published secret, allowed the OTP grant.
	return s.store.SetClient(ctx, &fosite.DefaultClient{
		ID:         "demo-kiosk",
		Secret:     hash,
		GrantTypes: []string{string(otp.DefaultGrantType), "refresh_token"},
		Scopes:     []string{"openid", "profile", "email", "offline_access", "usage:read"},
	})
}

func (s *Server) otpRoutes(m *http.ServeMux) {
	m.Handle(otpChallengePath, s.otpGrant.Challenge)
	m.HandleFunc("GET /demo/kiosk", s.otpKioskPage)
	m.HandleFunc("POST /demo/kiosk", s.otpKioskStep)
}

// The kiosk page below is the CLIENT side of the OTP grant, as a kiosk vendor would write it: it holds
// the client secret on the server side of the page and talks to the authorization server over HTTP, as
// any other client would. It lives in this example only so that the demo runs as one process.

// otpKioskClient is the kiosk's HTTP client.
var otpKioskClient = &http.Client{Timeout: 15 * time.Second}

const kioskCSRFCookie = "kiosk_csrf"

func (s *Server) otpKioskPage(rw http.ResponseWriter, r *http.Request) {
	s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "identify"})
}

// renderKiosk renders the kiosk page with a CSRF token (a double-submit cookie: the page is not signed in).
func (s *Server) renderKiosk(rw http.ResponseWriter, r *http.Request, status int, data map[string]interface{}) {
	token := ""
	if c, err := r.Cookie(kioskCSRFCookie); err == nil && len(c.Value) == 43 {
		token = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		token = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(rw, &http.Cookie{Name: kioskCSRFCookie, Value: token, Path: "/demo/kiosk", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.opts.Issuer, "https://")})
	}
	data["CSRF"] = token
	data["Scopes"] = otpDescribeScopes(otpScopes)
	s.render(rw, status, "otp_kiosk", data)
}

func otpDescribeScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		out = append(out, otpScopeText.DescribeScope(context.Background(), sc, ""))
	}
	return out
}

func (s *Server) otpKioskStep(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderKiosk(rw, r, http.StatusBadRequest, map[string]interface{}{"Step": "identify",
			"Error": pageError{What: "The form could not be read.", Next: "Start again."}})
		return
	}
	c, err := r.Cookie(kioskCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		s.renderKiosk(rw, r, http.StatusForbidden, map[string]interface{}{"Step": "identify", "Hint": r.PostForm.Get("login_hint"),
			"Error": pageError{What: "This page expired, so nothing was sent.", Next: "Press Continue to start again."}})
		return
	}
	ctx := r.Context()
	hint := r.PostForm.Get("login_hint")
	switch r.PostForm.Get("step") {
	case "identify":
		var ch otp.ChallengeResponse
		if err := s.kioskCall(ctx, otpChallengePath, url.Values{"login_hint": {hint}, "scope": {strings.Join(otpScopes, " ")}}, &ch); err != nil {
			s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "identify", "Error": kioskWords(err, ""), "Hint": hint})
			return
		}
		s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "channel", "OOB": ch.OOBCode, "Channels": ch.Channels, "Hint": hint})
	case "send":
		oob, channel := r.PostForm.Get("oob_code"), r.PostForm.Get("channel")
		destination := r.PostForm.Get("destination_" + channel)
		var sent otp.ChallengeResponse
		if err := s.kioskCall(ctx, otpChallengePath, url.Values{"oob_code": {oob}, "channel": {channel}}, &sent); err != nil {
			s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "identify", "Error": kioskWords(err, ""), "Hint": hint})
			return
		}
		s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "code", "OOB": oob, "Channel": channel, "Hint": hint,
			"Destination": destination, "ExpiresIn": sent.ExpiresIn / 60})
	case "redeem":
		oob, code, destination := r.PostForm.Get("oob_code"), r.PostForm.Get("code"), r.PostForm.Get("destination")
		var tok struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		err := s.kioskCall(ctx, "/oauth2/token", url.Values{"grant_type": {string(otp.DefaultGrantType)}, "oob_code": {oob},
			"binding_code": {code}}, &tok)
		if err != nil {
			msg := kioskWords(err, destination)
			step := "code"
			if msg.StartAgain {
				step = "identify" // this challenge is over: a new code is needed
			}
			s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": step, "OOB": oob, "Error": msg, "Hint": hint,
				"Channel": r.PostForm.Get("channel"), "Destination": destination})
			return
		}
		info, err := s.kioskUserinfo(ctx, tok.AccessToken)
		if err != nil {
			s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "identify", "Error": kioskWords(err, ""), "Hint": hint})
			return
		}
		s.renderKiosk(rw, r, http.StatusOK, map[string]interface{}{"Step": "done", "Subject": info["sub"], "Name": info["name"],
			"Granted": otpDescribeScopes(strings.Fields(tok.Scope))})
	default:
		s.renderKiosk(rw, r, http.StatusBadRequest, map[string]interface{}{"Step": "identify", "Hint": hint,
			"Error": pageError{What: "The kiosk did not understand that step.", Next: "Start again."}})
	}
}

// kioskError is an answer of the authorization server that the kiosk could not use.
type kioskError struct {
	Status      int
	Code        string // the RFC 6749 §5.2 error code; empty when the server could not be reached
	Description string
	RetryAfter  string
	err         error
}

func (e *kioskError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the server could not be reached: %v", e.err)
	}
	return e.Code + ": " + e.Description
}

func (e *kioskError) Unwrap() error { return e.err }

// kioskMessageView is what the kiosk page says about a failure; StartAgain sends the customer back to
// the first step (the code no longer works).
type kioskMessageView struct {
	pageError
	StartAgain bool
}

var attemptsLeft = regexp.MustCompile(`(\d+) attempts? (?:are|is) left`)

// kioskWords turns the authorization server's answer into words for the customer at the kiosk, with
// what to do next first. destination is where the code went (masked), when known.
func kioskWords(err error, destination string) kioskMessageView {
	var ke *kioskError
	if !errors.As(err, &ke) || ke.Code == "" {
		return kioskMessageView{pageError: pageError{What: "The kiosk cannot reach the sign-in service right now.", Next: "Try again in a minute, or ask a member of staff."}}
	}
	where := "the message we just sent you"
	if destination != "" {
		where = "the latest message we sent to " + destination
	}
	d := ke.Description
	switch {
	case ke.Code == "invalid_grant" && attemptsLeft.MatchString(d):
		n, _ := strconv.Atoi(attemptsLeft.FindStringSubmatch(d)[1])
		tries := "1 more try"
		if n != 1 {
			tries = fmt.Sprintf("%d more tries", n)
		}
		return kioskMessageView{pageError: pageError{What: "That code is not right. You have " + tries + ".", Next: "Check " + where + " and type the code again."}}
	case ke.Code == "invalid_grant" && strings.Contains(d, "Start a new one"):
		return kioskMessageView{StartAgain: true, pageError: pageError{What: "Too many wrong codes: for your safety, that code no longer works.", Next: "Press Continue to get a new code."}}
	case ke.Code == "invalid_grant" && strings.Contains(d, "already been used"):
		return kioskMessageView{StartAgain: true, pageError: pageError{What: "That code was already used.", Next: "Press Continue to get a new code."}}
	case ke.Code == "expired_token" || (ke.Code == "invalid_grant" && strings.Contains(d, "unknown")):
		return kioskMessageView{StartAgain: true, pageError: pageError{What: "That code has expired.", Next: "Press Continue to get a new code."}}
	case ke.Status == http.StatusTooManyRequests || ke.Code == "slow_down":
		next := "Try again later."
		if secs, err := strconv.Atoi(ke.RetryAfter); err == nil && secs > 0 {
			next = "Try again " + relative(time.Time{}, time.Time{}.Add(time.Duration(secs)*time.Second)) + "."
		}
		return kioskMessageView{pageError: pageError{What: "Too many codes were asked for.", Next: next}}
	case ke.Code == "invalid_request" && strings.Contains(d, "login_hint"):
		return kioskMessageView{pageError: pageError{What: "Type your service address, account number, phone number or e-mail first.", Next: "Then press Continue."}}
	}
	return kioskMessageView{pageError: pageError{What: "The sign-in service refused: " + d, Next: "Ask a member of staff for help."}}
}

// kioskCall posts form to the authorization server as demo-kiosk (client_secret_basic) and decodes the
// JSON answer into out; an OAuth error becomes an error with its description.
func (s *Server) kioskCall(ctx context.Context, path string, form url.Values, out interface{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.Issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo-kiosk", url.QueryEscape(DemoKioskSecret))
	return kioskDo(req, out)
}

func (s *Server) kioskUserinfo(ctx context.Context, accessToken string) (map[string]interface{}, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.Issuer+"/userinfo", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	var m map[string]interface{}
	return m, kioskDo(req, &m)
}

func kioskDo(req *http.Request, out interface{}) error {
	resp, err := otpKioskClient.Do(req)
	if err != nil {
		return &kioskError{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &kioskError{err: err}
	}
	if resp.StatusCode != http.StatusOK {
		e := &kioskError{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		var b struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &b) == nil && b.Error != "" {
			e.Code, e.Description = b.Error, b.Description
		} else {
			e.Code, e.Description = "server_error", "the server answered "+resp.Status
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &kioskError{Code: "server_error", Description: "the server's answer could not be read", err: err}
	}
	return nil
}
