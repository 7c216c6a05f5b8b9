package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/integration/hydra/hydragrants"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

func render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// csrfCookie is the double-submit token of the verification page's forms.
const csrfCookie = "device_csrf"

func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/device", HttpOnly: true,
		Secure: strings.HasPrefix(s.opts.Issuer, "https://"), SameSite: http.SameSiteStrictMode})
	return v
}

func csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) == 1
}

// devicePageData is what the verification pages show.
type devicePageData struct {
	CSRF, UserCode, Error string
	// FromLink is true when the code came in the link (verification_uri_complete): the user must
	// check it against the device (RFC 8628 §5.4).
	FromLink bool
	A        *rfc8628.Authorization
	Name     string
}

// devicePage is the verification page (RFC 8628 §3.3): a form for the user code.
func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	render(w, http.StatusOK, "device.html", devicePageData{CSRF: s.csrfToken(w, r), UserCode: code, FromLink: code != ""})
}

// deviceLookup shows the request a code names — client, scopes, the device's address and user agent —
// for the user to check before signing in (RFC 8628 §5.4).
func (s *Server) deviceLookup(w http.ResponseWriter, r *http.Request) {
	data, ok := s.deviceForm(w, r)
	if !ok {
		return
	}
	a, err := s.device.Verifier.Lookup(r.Context(), data.UserCode, s.pageCaller(r))
	if err != nil {
		data.Error = userMessage(err)
		render(w, fosite.ErrorToRFC6749Error(err).CodeField, "device.html", data)
		return
	}
	data.A, data.Name = a, clientName(a.Client)
	render(w, http.StatusOK, "confirm.html", data)
}

// deviceContinue sends the browser through Hydra's login and consent for the request.
func (s *Server) deviceContinue(w http.ResponseWriter, r *http.Request) {
	data, ok := s.deviceForm(w, r)
	if !ok {
		return
	}
	if err := s.consent.Start(w, r, data.UserCode); err != nil {
		data.Error = userMessage(err)
		render(w, fosite.ErrorToRFC6749Error(err).CodeField, "device.html", data)
	}
}

// deviceForm reads and checks a verification form post.
func (s *Server) deviceForm(w http.ResponseWriter, r *http.Request) (devicePageData, bool) {
	if err := parseForm(w, r); err != nil {
		render(w, http.StatusBadRequest, "device.html", devicePageData{CSRF: s.csrfToken(w, r), Error: "The form could not be read."})
		return devicePageData{}, false
	}
	data := devicePageData{CSRF: s.csrfToken(w, r), UserCode: r.PostFormValue("user_code")}
	if !csrfOK(r) {
		data.Error = "This form expired. Enter the code again."
		render(w, http.StatusForbidden, "device.html", data)
		return data, false
	}
	return data, true
}

// deviceDone shows how the approval through Hydra's login and consent ended.
func (s *Server) deviceDone(w http.ResponseWriter, r *http.Request, o hydragrants.DeviceOutcome) {
	data := map[string]any{"Approved": o.Approved, "Denied": o.Denied}
	if o.Authorization != nil {
		data["Name"] = clientName(o.Authorization.Client)
		data["Scopes"] = strings.Join(o.Authorization.GrantedScopes, " ")
	}
	status := http.StatusOK
	if !o.Approved && !o.Denied {
		status = fosite.ErrorToRFC6749Error(o.Err).CodeField
		if status < 400 {
			status = http.StatusBadRequest
		}
		data["Error"] = userMessage(o.Err)
		s.opts.Logger.Info("device approval did not complete", "error", o.Err)
	}
	render(w, status, "done.html", data)
}

// userMessage turns an error into a sentence for a person.
func userMessage(err error) string {
	switch {
	case errors.Is(err, pending.ErrTooManyAttempts):
		return "Too many wrong codes were entered. Wait a few minutes and try again."
	case errors.Is(err, rfc8628.ErrInvalidUserCode):
		return "That code is not valid. Check it on your device: it may have expired or been used already."
	case errors.Is(err, hydragrants.ErrNotThisBrowser):
		return "This approval was not started in this browser, or it has expired. Enter the code from your device again."
	}
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField < 500 && rfc.GetDescription() != "" {
		return rfc.GetDescription()
	}
	return "Something went wrong. Try again."
}

func clientName(c fosite.Client) string {
	if n, ok := c.(interface{ GetClientName() string }); ok && n.GetClientName() != "" {
		return n.GetClientName()
	}
	return c.GetID()
}

// pageCaller is who types a code on the verification page, for the guessing limits: their address.
func (s *Server) pageCaller(r *http.Request) pending.Caller {
	return pending.Caller{Address: adminCaller(r).Address}
}

// --- DEMO: the login and consent app. It talks to Hydra's admin API over HTTP exactly as an operator's
// app does (here routed in process, with the admin token); Hydra knows nothing of it.

// hydraAdmin calls Hydra's admin API: method path?query with body as JSON, decoding the answer into out.
func (s *Server) hydraAdmin(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.issuerURL(path, q), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.opts.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Transport: inProcess{s}}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("hydra admin %s %s: %d %s", method, path, res.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

// inProcess serves client requests with the server's own handler.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	return rec.Result(), nil
}

type loginRequest struct {
	Challenge string   `json:"challenge"`
	Skip      bool     `json:"skip"`
	Subject   string   `json:"subject"`
	Scopes    []string `json:"requested_scope"`
	Client    struct {
		ID   string `json:"client_id"`
		Name string `json:"client_name"`
	} `json:"client"`
}

type consentRequest struct {
	Challenge string   `json:"challenge"`
	Skip      bool     `json:"skip"`
	Subject   string   `json:"subject"`
	Scopes    []string `json:"requested_scope"`
	Audience  []string `json:"requested_access_token_audience"`
	Client    struct {
		ID   string `json:"client_id"`
		Name string `json:"client_name"`
	} `json:"client"`
}

type redirect struct {
	To string `json:"redirect_to"`
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	challenge := r.URL.Query().Get("login_challenge")
	var lr loginRequest
	if err := s.hydraAdmin(ctx, http.MethodGet, "/admin/oauth2/auth/requests/login", url.Values{"login_challenge": {challenge}}, nil, &lr); err != nil {
		render(w, http.StatusBadRequest, "done.html", map[string]any{"Error": "This sign-in request is unknown or has expired."})
		return
	}
	if lr.Skip { // Hydra remembers the user: accept without asking
		s.acceptLogin(w, r, challenge, lr.Subject)
		return
	}
	render(w, http.StatusOK, "login.html", map[string]any{"Challenge": challenge, "Client": firstNonEmpty(lr.Client.Name, lr.Client.ID)})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		writeRFCError(w, err)
		return
	}
	challenge := r.PostFormValue("challenge")
	if r.PostFormValue("action") == "deny" {
		s.rejectChallenge(w, r, "login", challenge)
		return
	}
	u, ok := checkPassword(r.PostFormValue("username"), r.PostFormValue("password"))
	if !ok {
		render(w, http.StatusUnauthorized, "login.html", map[string]any{"Challenge": challenge, "Error": "Wrong user name or password."})
		return
	}
	s.acceptLogin(w, r, challenge, u.subject)
}

func (s *Server) acceptLogin(w http.ResponseWriter, r *http.Request, challenge, subject string) {
	var to redirect
	if err := s.hydraAdmin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/accept", url.Values{"login_challenge": {challenge}},
		map[string]any{"subject": subject, "remember": false}, &to); err != nil {
		render(w, http.StatusBadRequest, "done.html", map[string]any{"Error": "This sign-in request is unknown or has expired."})
		return
	}
	http.Redirect(w, r, to.To, http.StatusFound)
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	challenge := r.URL.Query().Get("consent_challenge")
	var cr consentRequest
	if err := s.hydraAdmin(ctx, http.MethodGet, "/admin/oauth2/auth/requests/consent", url.Values{"consent_challenge": {challenge}}, nil, &cr); err != nil {
		render(w, http.StatusBadRequest, "done.html", map[string]any{"Error": "This consent request is unknown or has expired."})
		return
	}
	if cr.Skip { // consent given before and remembered
		s.acceptConsent(w, r, challenge, cr, cr.Scopes)
		return
	}
	render(w, http.StatusOK, "consent.html", map[string]any{"Challenge": challenge, "Client": firstNonEmpty(cr.Client.Name, cr.Client.ID), "Scopes": cr.Scopes, "Subject": cr.Subject})
}

func (s *Server) consentSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		writeRFCError(w, err)
		return
	}
	challenge := r.PostFormValue("challenge")
	if r.PostFormValue("action") != "allow" {
		s.rejectChallenge(w, r, "consent", challenge)
		return
	}
	var cr consentRequest
	if err := s.hydraAdmin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent", url.Values{"consent_challenge": {challenge}}, nil, &cr); err != nil {
		render(w, http.StatusBadRequest, "done.html", map[string]any{"Error": "This consent request is unknown or has expired."})
		return
	}
	granted := []string{}
	for _, sc := range cr.Scopes {
		if r.PostFormValue("scope_"+sc) == "on" {
			granted = append(granted, sc)
		}
	}
	s.acceptConsent(w, r, challenge, cr, granted)
}

func (s *Server) acceptConsent(w http.ResponseWriter, r *http.Request, challenge string, cr consentRequest, granted []string) {
	var to redirect
	if err := s.hydraAdmin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/accept", url.Values{"consent_challenge": {challenge}},
		map[string]any{
			"grant_scope": granted, "grant_access_token_audience": cr.Audience, "remember": false,
			"session": map[string]any{"id_token": demoClaims(cr.Subject, granted)},
		}, &to); err != nil {
		render(w, http.StatusBadRequest, "done.html", map[string]any{"Error": "This consent request is unknown or has expired."})
		return
	}
	http.Redirect(w, r, to.To, http.StatusFound)
}

func (s *Server) rejectChallenge(w http.ResponseWriter, r *http.Request, kind, challenge string) {
	var to redirect
	if err := s.hydraAdmin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/"+kind+"/reject", url.Values{kind + "_challenge": {challenge}},
		map[string]any{"error": "access_denied", "error_description": "The user declined."}, &to); err != nil {
		render(w, http.StatusBadRequest, "done.html", map[string]any{"Error": "This request is unknown or has expired."})
		return
	}
	http.Redirect(w, r, to.To, http.StatusFound)
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
