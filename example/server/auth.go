package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	sessionCookie   = "grants_session"
	sessionLifetime = 12 * time.Hour
)

// cookieJar signs the sign-in cookie and derives CSRF tokens from it. DEMO: a real server keeps
// sessions server-side so that it can end them.
type cookieJar struct {
	key    []byte
	secure bool
}

func newCookieJar(globalSecret []byte, secure bool) (*cookieJar, error) {
	if len(globalSecret) < 32 {
		return nil, errors.New("example: the global secret must be at least 32 bytes")
	}
	m := hmac.New(sha256.New, globalSecret)
	m.Write([]byte("example sign-in cookie v1"))
	return &cookieJar{key: m.Sum(nil), secure: secure}, nil
}

func (c *cookieJar) mac(parts ...string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedIn is who the browser is signed in as.
type signedIn struct {
	Subject  string
	AuthTime time.Time
	CSRF     string
}

func (c *cookieJar) set(rw http.ResponseWriter, subject string, authTime time.Time) {
	at := strconv.FormatInt(authTime.Unix(), 10)
	v := subject + "|" + at + "|" + c.mac("session", subject, at)
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionLifetime / time.Second)})
}

func (c *cookieJar) clear(rw http.ResponseWriter) {
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: c.secure, MaxAge: -1})
}

func (c *cookieJar) get(r *http.Request) (*signedIn, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(ck.Value, "|")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(c.mac("session", parts[0], parts[1]))) {
		return nil, false
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return nil, false
	}
	at := time.Unix(sec, 0).UTC()
	if time.Since(at) > sessionLifetime {
		return nil, false
	}
	return &signedIn{Subject: parts[0], AuthTime: at, CSRF: c.mac("csrf", parts[0], parts[1])}, true
}

// checkCSRF verifies the form's CSRF token against the signed-in session, in constant time.
func (c *cookieJar) checkCSRF(r *http.Request, who *signedIn) bool {
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(who.CSRF))
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

// safeReturn keeps only local paths, so the sign-in page can not be used to redirect elsewhere.
func safeReturn(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

func (s *Server) loginPage(rw http.ResponseWriter, r *http.Request) {
	s.render(rw, http.StatusOK, "login", map[string]interface{}{"ReturnTo": safeReturn(r.URL.Query().Get("return_to"))})
}

func (s *Server) login(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.render(rw, http.StatusBadRequest, "login", map[string]interface{}{"Error": "The form could not be read."})
		return
	}
	returnTo := safeReturn(r.PostFormValue("return_to"))
	u, ok := checkPassword(r.PostFormValue("username"), r.PostFormValue("password"))
	if !ok {
		s.render(rw, http.StatusUnauthorized, "login", map[string]interface{}{"ReturnTo": returnTo, "Error": "Wrong user name or password."})
		return
	}
	s.cookies.set(rw, u.Subject, time.Now())
	http.Redirect(rw, r, returnTo, http.StatusSeeOther)
}

func (s *Server) logout(rw http.ResponseWriter, r *http.Request) {
	if who, ok := s.cookies.get(r); ok && s.cookies.checkCSRF(r, who) {
		s.cookies.clear(rw)
	}
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

func (s *Server) home(rw http.ResponseWriter, r *http.Request) {
	who, _ := s.cookies.get(r)
	s.render(rw, http.StatusOK, "home", map[string]interface{}{"Who": who, "Issuer": s.opts.Issuer, "Dev": s.opts.Dev && s.outbox != nil})
}
