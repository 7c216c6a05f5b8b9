package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fosite-contrib/grants/signin"
)

// Sign-in: how the pages know who is there.
//
//   - Sessions live in the store (signin.Storage): the browser's cookie holds a random session ID, the
//     store its hash with the subject, the time of sign-in and the expiry. Signing out deletes the row,
//     so a copied cookie stops working at once, on every instance; a restart signs nobody out.
//   - Every form that changes something carries a CSRF token: HMAC(session hash) once signed in, and on
//     the sign-in form HMAC(pre-session cookie), a random value the sign-in page sets (double submit
//     with a signed token). On https every cookie is __Host- prefixed (Secure, host-only, Path=/), so a
//     sibling subdomain can not plant one; all are SameSite=Lax and HttpOnly.
//   - The page to return to after sign-in passes signin.ReturnPath.
//   - Attempts are limited per address and per account, and a browser that has signed in to an account
//     before (its known-device cookie) is exempt from both for that account, so that nobody can lock the
//     owner out; see SignInOptions.

const (
	sessionCookie     = "grants_session"
	preSessionCookie  = "grants_login"
	knownDevicePrefix = "grants_device_"
	sessionLifetime   = 12 * time.Hour
	// knownDeviceLifetime is how long a browser stays known to an account after signing in to it.
	knownDeviceLifetime = 30 * 24 * time.Hour
	// maxUsername and maxPassword bound what the sign-in form accepts, in bytes.
	maxUsername, maxPassword = 256, 1024
)

// SignInOptions are the attempt limits of the sign-in page (POST /login). Zero fields take the defaults.
//
// Each attempt is counted before the password is compared and a success gives its count back, so the
// limits bound failures (wrong passwords, names that are no account, attempts a limit refused) and
// simultaneous attempts can not pass a limit together. The counts live in the store
// (pending.AttemptStorage), so the limits hold across instances. A window starts with its first attempt
// and ends Window later however many attempts follow, so hammering does not prolong a refusal.
//
// A browser that has signed in to an account carries a signed known-device cookie for it (30 days).
// Its attempts at that account count only against that cookie and are exempt from the address and
// account limits, so whoever exhausts those can not lock the owner out of their own browser, even from
// an address the owner shares. Past PerKnownDevice failures the cookie exempts nothing until its window
// ends. Every other attempt counts against its address and then, unless the address is over its limit,
// against the account name. A refused attempt answers 429 with Retry-After and the time to try again.
// Answers, and the work done, are the same for names that are no account.
type SignInOptions struct {
	// Window is how long failures count. Default 15 minutes.
	Window time.Duration
	// PerAddress is the number of failures per Window from one address (an IPv4 address, or an IPv6
	// /64) by browsers not known to the account they try. Default 50.
	PerAddress int
	// PerAccount is the number of failures per Window at one account name (existing or not) by browsers
	// not known to it. Default 10.
	PerAccount int
	// PerKnownDevice is the number of failures per Window a known browser may make at its account before
	// it counts as unknown. Default 10.
	PerKnownDevice int
}

func (o SignInOptions) withDefaults() SignInOptions {
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.PerAddress <= 0 {
		o.PerAddress = 50
	}
	if o.PerAccount <= 0 {
		o.PerAccount = 10
	}
	if o.PerKnownDevice <= 0 {
		o.PerKnownDevice = 10
	}
	return o
}

// cookieJar issues and reads the sign-in cookies: the session, the sign-in form's pre-session, and the
// known-device cookies.
type cookieJar struct {
	key    []byte
	secure bool
	store  signin.Storage
	now    func() time.Time
}

func newCookieJar(globalSecret []byte, secure bool, store signin.Storage, now func() time.Time) (*cookieJar, error) {
	if len(globalSecret) < 32 {
		return nil, errors.New("example: the global secret must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	m := hmac.New(sha256.New, globalSecret)
	m.Write([]byte("example sign-in cookie v2"))
	return &cookieJar{key: m.Sum(nil), secure: secure, store: store, now: now}, nil
}

func (c *cookieJar) mac(parts ...string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// name is a cookie's name: __Host- prefixed on https, where browsers then insist on Secure, Path=/ and
// no Domain. (On plain http, as in development, browsers refuse such cookies, so there it is bare.)
func (c *cookieJar) name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *cookieJar) setCookie(rw http.ResponseWriter, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: c.name(name), Value: value, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(rw, ck)
}

func (c *cookieJar) cookie(r *http.Request, name string) string {
	ck, err := r.Cookie(c.name(name))
	if err != nil {
		return ""
	}
	return ck.Value
}

// signedIn is who the browser is signed in as.
type signedIn struct {
	Subject  string
	AuthTime time.Time
	// CSRF is the token this session's forms carry.
	CSRF   string
	idHash string
}

// get returns the browser's session, when it has one the store still knows.
func (c *cookieJar) get(r *http.Request) (*signedIn, bool) {
	id := c.cookie(r, sessionCookie)
	if !signin.WellFormedSessionID(id) {
		return nil, false
	}
	hash := signin.HashSessionID(id)
	sess, err := c.store.GetSignInSession(r.Context(), hash, c.now())
	if err != nil {
		return nil, false
	}
	return &signedIn{Subject: sess.Subject, AuthTime: sess.AuthTime, CSRF: c.mac("csrf", hash), idHash: hash}, true
}

// start signs the browser in as subject with a new session (ending the one it had, if any).
func (c *cookieJar) start(ctx context.Context, rw http.ResponseWriter, r *http.Request, subject string) error {
	if old, ok := c.get(r); ok {
		if err := c.store.DeleteSignInSession(ctx, old.idHash); err != nil {
			return err
		}
	}
	id, hash, err := signin.NewSessionID()
	if err != nil {
		return err
	}
	now := c.now()
	if err := c.store.CreateSignInSession(ctx, &signin.Session{IDHash: hash, Subject: subject, AuthTime: now, ExpiresAt: now.Add(sessionLifetime)}); err != nil {
		return err
	}
	c.setCookie(rw, sessionCookie, id, sessionLifetime)
	c.setCookie(rw, preSessionCookie, "", -1)
	return nil
}

// end signs the browser out: the session is deleted from the store, so the cookie is worthless even
// where it was copied.
func (c *cookieJar) end(ctx context.Context, rw http.ResponseWriter, who *signedIn) error {
	if err := c.store.DeleteSignInSession(ctx, who.idHash); err != nil {
		return err
	}
	c.setCookie(rw, sessionCookie, "", -1)
	return nil
}

// checkCSRF verifies the form's CSRF token against the signed-in session, in constant time.
func (c *cookieJar) checkCSRF(r *http.Request, who *signedIn) bool {
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(who.CSRF))
}

// loginToken returns the sign-in form's CSRF token, bound to the browser's pre-session cookie. Without
// one it sets a new cookie when create is true, and returns "" otherwise.
func (c *cookieJar) loginToken(rw http.ResponseWriter, r *http.Request, create bool) string {
	v := c.cookie(r, preSessionCookie)
	if !signin.WellFormedSessionID(v) {
		if !create {
			return ""
		}
		var err error
		if v, _, err = signin.NewSessionID(); err != nil {
			return ""
		}
		c.setCookie(rw, preSessionCookie, v, 0)
	}
	return c.mac("login csrf", v)
}

// checkLoginCSRF verifies the sign-in form's CSRF token against the pre-session cookie.
func (c *cookieJar) checkLoginCSRF(r *http.Request) bool {
	v := c.cookie(r, preSessionCookie)
	return signin.WellFormedSessionID(v) && hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.mac("login csrf", v)))
}

// knownDeviceName is the cookie that marks a browser known to account. The name is a MAC of the
// account, so the cookie does not say whose it is.
func (c *cookieJar) knownDeviceName(account string) string {
	return knownDevicePrefix + c.mac("known device name", account)[:16]
}

// knownDevice returns the ID of the browser's known-device cookie for account when it has a valid one.
func (c *cookieJar) knownDevice(r *http.Request, account string) (string, bool) {
	parts := strings.Split(c.cookie(r, c.knownDeviceName(account)), ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(c.mac("known device", account, parts[0], parts[1]))) {
		return "", false
	}
	issued, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !c.now().Before(time.Unix(issued, 0).Add(knownDeviceLifetime)) {
		return "", false
	}
	return parts[0], true
}

// rememberDevice gives the browser a new known-device cookie for account (a new ID, so failures
// counted against an earlier one do not carry over to a browser that has just proved the password).
func (c *cookieJar) rememberDevice(rw http.ResponseWriter, account string) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	id, issued := base64.RawURLEncoding.EncodeToString(b), strconv.FormatInt(c.now().Unix(), 10)
	c.setCookie(rw, c.knownDeviceName(account), id+"."+issued+"."+c.mac("known device", account, id, issued), knownDeviceLifetime)
	return nil
}

// signedInPost reads a page's form POST from the signed-in user (at most 16 KiB). Without a session it
// sends the user to sign in, like requireSignIn; when the form cannot be read or its CSRF token is not
// this session's, expired renders the answer. It reports whether the handler may go on.
func (s *Server) signedInPost(rw http.ResponseWriter, r *http.Request, expired func(who *signedIn)) (*signedIn, bool) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return nil, false
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !s.cookies.checkCSRF(r, who) {
		expired(who)
		return nil, false
	}
	return who, true
}

// requireSignIn returns who is signed in, or redirects to the sign-in page and returns nil.
func (s *Server) requireSignIn(rw http.ResponseWriter, r *http.Request) *signedIn {
	if who, ok := s.cookies.get(r); ok {
		return who
	}
	http.Redirect(rw, r, "/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return nil
}

func (s *Server) loginPage(rw http.ResponseWriter, r *http.Request) {
	s.render(rw, http.StatusOK, "login", map[string]interface{}{
		"ReturnTo": signin.ReturnPath(r.URL.Query().Get("return_to")),
		"CSRF":     s.cookies.loginToken(rw, r, true),
	})
}

// renderLogin renders the sign-in form again with a message, keeping the browser's pre-session.
func (s *Server) renderLogin(rw http.ResponseWriter, r *http.Request, status int, returnTo, msg string) {
	s.render(rw, status, "login", map[string]interface{}{"ReturnTo": returnTo, "Error": msg, "CSRF": s.cookies.loginToken(rw, r, false)})
}

// login checks a sign-in: CSRF first (a cross-site POST changes nothing, not even a counter), then the
// attempt limits, then the password.
func (s *Server) login(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(rw, r, http.StatusBadRequest, "/", "The form could not be read.")
		return
	}
	returnTo := signin.ReturnPath(r.PostFormValue("return_to"))
	if !s.cookies.checkLoginCSRF(r) {
		s.renderLogin(rw, r, http.StatusForbidden, returnTo, "This sign-in form has expired or was not sent from this site. Sign in again.")
		return
	}
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	if username == "" || password == "" {
		s.renderLogin(rw, r, http.StatusBadRequest, returnTo, "Enter your user name and password.")
		return
	}
	if len(username) > maxUsername || len(password) > maxPassword || !printable(username) || !utf8.ValidString(password) {
		s.renderLogin(rw, r, http.StatusBadRequest, returnTo, "The user name or password is too long or has characters that are not allowed.")
		return
	}

	now := s.grantsNow()
	lim := s.opts.SignIn.withDefaults()
	// The attempt is counted before the password is compared, against the browser's known-device
	// cookie for this account when it has one within its limit, else against the address and the
	// account name (in that order: an address over its limit does not count against the account, so
	// one address can not exhaust many accounts' limits).
	var counted []signInCounter
	if device, ok := s.cookies.knownDevice(r, username); ok {
		c := signInCounter{"signin-device|" + device, lim.PerKnownDevice}
		within, err := s.countAttempt(ctx, c, now, lim.Window)
		if err != nil {
			s.signInUnavailable(rw, r, returnTo, err)
			return
		}
		if within {
			counted = []signInCounter{c}
		}
	}
	if counted == nil {
		// The account name as typed, under a MAC: the key has a fixed length and reveals no name.
		for _, c := range []signInCounter{
			{"signin-address|" + signInAddress(r), lim.PerAddress},
			{"signin-account|" + s.cookies.mac("account", username), lim.PerAccount},
		} {
			within, err := s.countAttempt(ctx, c, now, lim.Window)
			if err != nil {
				s.signInUnavailable(rw, r, returnTo, err)
				return
			}
			if !within {
				s.signInLimited(rw, now, lim.Window)
				return
			}
			counted = append(counted, c)
		}
	}

	u, ok := checkPassword(username, password)
	if !ok {
		s.renderLogin(rw, r, http.StatusUnauthorized, returnTo, "Wrong user name or password.")
		return
	}
	for _, c := range counted {
		if _, err := s.store.IncrementAttempts(ctx, c.key+"|ok", now, lim.Window); err != nil {
			s.signInUnavailable(rw, r, returnTo, err)
			return
		}
	}
	if err := s.cookies.start(ctx, rw, r, u.Subject); err != nil {
		s.signInUnavailable(rw, r, returnTo, err)
		return
	}
	if err := s.cookies.rememberDevice(rw, username); err != nil {
		s.log.ErrorContext(ctx, "known-device cookie not set", "error", err)
	}
	http.Redirect(rw, r, returnTo, http.StatusSeeOther)
}

// signInCounter is one limit on sign-in failures: a store key and the number of failures allowed per
// window.
type signInCounter struct {
	key   string
	limit int
}

// countAttempt counts an attempt against c before the password is compared and reports whether c's
// failures are still within its limit. Failures are the attempts (key|tried) less the successes
// (key|ok) of the window, so that concurrent attempts can not pass a limit together, and a person who
// signs in from many browsers is not taken for a guesser. (The two counts' windows start at their own
// first events, so a window may forgive as many failures as it saw successes, which an attacker
// without the password can not produce.)
func (s *Server) countAttempt(ctx context.Context, c signInCounter, now time.Time, window time.Duration) (bool, error) {
	tried, err := s.store.IncrementAttempts(ctx, c.key+"|tried", now, window)
	if err != nil {
		return false, err
	}
	succeeded, err := s.store.GetAttempts(ctx, c.key+"|ok", now, window)
	if err != nil {
		return false, err
	}
	return tried-succeeded <= c.limit, nil
}

// signInAddress is the address sign-in attempts count against: the IPv4 address, or the /64 of an IPv6
// address (one subscriber's usual allocation). DEMO: behind a proxy, use the address it reports.
func signInAddress(r *http.Request) string {
	a, err := netip.ParseAddr(remoteAddr(r))
	if err != nil {
		return remoteAddr(r)
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// signInLimited answers an attempt over a limit: 429, Retry-After, and when to try again (the latest
// the window can end, as refused attempts do not prolong it). The answer is the same whichever limit
// was reached and whether or not the account exists.
func (s *Server) signInLimited(rw http.ResponseWriter, now time.Time, window time.Duration) {
	rw.Header().Set("Retry-After", strconv.Itoa(int(window/time.Second)))
	minutes := int((window + time.Minute - 1) / time.Minute)
	s.render(rw, http.StatusTooManyRequests, "signin_limited", map[string]interface{}{
		"Minutes": minutes, "Until": now.Add(window).UTC().Format("15:04 UTC"),
	})
}

func (s *Server) signInUnavailable(rw http.ResponseWriter, r *http.Request, returnTo string, err error) {
	s.log.ErrorContext(r.Context(), "sign-in failed", "error", err)
	s.renderLogin(rw, r, http.StatusServiceUnavailable, returnTo, "Signing in is not possible right now. Try again in a minute.")
}

// printable reports whether a user name is valid UTF-8 without control characters.
func printable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// logout ends the session on the server (POST with the session's CSRF token).
func (s *Server) logout(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.cookies.get(r)
	if !ok {
		http.Redirect(rw, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !s.cookies.checkCSRF(r, who) {
		s.render(rw, http.StatusForbidden, "form_expired", map[string]interface{}{"Who": who,
			"Error": "The sign-out form expired or was not sent from this site. Use the sign-out button above."})
		return
	}
	if err := s.cookies.end(r.Context(), rw, who); err != nil {
		s.log.ErrorContext(r.Context(), "sign-out failed", "error", err)
		s.render(rw, http.StatusServiceUnavailable, "form_expired", map[string]interface{}{"Who": who,
			"Error": "Signing out is not possible right now. Try again in a minute."})
		return
	}
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

func (s *Server) home(rw http.ResponseWriter, r *http.Request) {
	who, _ := s.cookies.get(r)
	s.render(rw, http.StatusOK, "home", map[string]interface{}{"Who": who, "Issuer": s.opts.Issuer, "Dev": s.opts.Dev && s.outbox != nil})
}
