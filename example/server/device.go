package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/internal/qrcode"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// remoteAddr is the address the attempt limit counts wrong user codes against. DEMO: behind a proxy,
// use the address it reports.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// caller is who types a user code, for the guessing limits (pending.Limiter): the signed-in person,
// or an anonymous caller at the request's address.
func caller(r *http.Request, who *signedIn) pending.Caller {
	c := pending.Caller{Address: remoteAddr(r)}
	if who != nil {
		c.Account = who.Subject
	}
	return c
}

// adminCaller is the admin API's caller: its failures count per admin credential (a hash of the
// token), never against the people signing in.
func adminCaller(r *http.Request) pending.Caller {
	sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return pending.Caller{Address: remoteAddr(r), Account: "admin|" + hex.EncodeToString(sum[:8])}
}

// deviceOptions configure the device grant: the endpoints, the audit log, post-approval alerts through
// the outbox, the staffed kiosk, and the kiosk demo's lifetimes and printed codes.
func (s *Server) deviceOptions() rfc8628.Options {
	key := s.opts.Kiosk.PrintedCodeKey
	if key == nil {
		key = DemoPrintedCodeKey
	}
	alerts := &rfc8628.AlertOptions{
		Sender:        s.sender,
		Recipients:    rfc8628.AlertRecipientsFunc(demoAlertDestination),
		DeactivateURL: s.opts.Issuer + "/device/deactivate",
	}
	if s.queue != nil {
		// Alerts go through the durable outbox, queued in the approval's transaction, so a crash
		// between approving and alerting loses no alert.
		alerts.Outbox, alerts.Kick = s.queue, s.kick
	}
	return rfc8628.Options{
		AuthorizationURL: s.opts.Issuer + "/oauth2/device/auth",
		VerificationURI:  s.opts.Issuer + "/device",
		PollingInterval:  s.opts.DevicePollingInterval,
		ClientLifespans: map[string]rfc8628.Lifespans{
			demoKioskApp: {CodeLifespan: 7 * 24 * time.Hour, PickupWindow: 7 * 24 * time.Hour},
		},
		PrintedCodeKeys: map[string][]byte{demoPrinted: key},
		Audit:           s.kiosk.auditLog,
		Alerts:          alerts,
		Kiosk: &rfc8628.KioskOptions{
			Staff: staffDirectory{}, Accounts: demoAccounts{},
			NewSession: func(_ context.Context, subject string) fosite.Session { return s.newSession(subject, time.Now()) },
		},
		Policy: s.policy(s.opts.Policy.Device),
		Now:    s.opts.Now,
		Logger: s.log,
	}
}

type scopeView struct{ Name, Description string }

func describeScopes(scopes []string) []scopeView {
	out := make([]scopeView, 0, len(scopes))
	for _, s := range scopes {
		d := scopeDescriptions[s]
		if d == "" {
			d = s
		}
		out = append(out, scopeView{Name: s, Description: d})
	}
	return out
}

// devicePage is the verification URI (RFC 8628 §3.3). Without a code it asks for one; with one (typed,
// or from verification_uri_complete) it shows who asks for what, from where and when, and asks the
// user to check that the code matches the one on their device (§3.3.1, §5.4). A code that fails keeps
// what the person typed in the field.
func (s *Server) devicePage(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	code := r.URL.Query().Get("user_code")
	data := map[string]interface{}{"Who": who}
	if code == "" {
		s.render(rw, http.StatusOK, "device_enter", data)
		return
	}
	// LookupFor also reports the user's recent approvals of the same client (the repeat-approval warning).
	a, err := s.deviceGrant.Verifier.LookupFor(r.Context(), code, caller(r, who))
	if err != nil {
		data["Error"] = userMessage(err)
		data["Code"] = typedCode(code)
		s.render(rw, statusOf(err), "device_enter", data)
		return
	}
	data["A"] = a
	data["ClientName"] = clientName(a.Client)
	data["Scopes"] = describeScopeChoices(a.RequestedScopes, nil)
	data["FromLink"] = r.URL.Query().Get("entered") == ""
	data["Repeat"] = a.RecentApprovals
	data["Facts"] = requestFacts{ClientName: clientName(a.Client), ClientID: a.Client.GetID(), Device: a.Device,
		CreatedAt: a.CreatedAt, Now: s.grantsNow(), Account: who.Subject, Where: describeProximity(a.Proximity, a.Device.RemoteAddr)}
	s.render(rw, http.StatusOK, "device_confirm", data)
}

// requestFacts are what every approval page says about a request (template "device_facts"): which
// client asks, what device, from where, when, and for which account.
type requestFacts struct {
	ClientName, ClientID string
	Device               pending.DeviceInfo
	CreatedAt, Now       time.Time
	Account              string
	// AccountLabel names the Account line; empty means "Your account".
	AccountLabel string
	// Where says where the request came from, compared with the viewer (RFC 10027: establish proximity).
	Where placeWords
}

// maxTypedCode bounds how much of a typed code a page gives back.
const maxTypedCode = 64

// typedCode is what the person typed, to put back in the field after an error.
func typedCode(code string) string {
	if len(code) > maxTypedCode {
		return ""
	}
	return code
}

// deviceDecide records the signed-in user's approval or denial.
func (s *Server) deviceDecide(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.render(rw, http.StatusForbidden, "device_enter", map[string]interface{}{"Who": who, "Code": typedCode(r.PostFormValue("user_code")),
			"Error": pageError{What: "The form expired, so nothing was changed.", Next: "Check the code below and press Continue."}})
	})
	if !ok {
		return
	}
	code := r.PostFormValue("user_code")
	ctx := r.Context()
	var (
		a   *rfc8628.Authorization
		err error
	)
	approved := r.PostFormValue("action") == "approve"
	if approved {
		d := pending.Decision{Subject: who.Subject, Session: s.newSession(who.Subject, who.AuthTime)}
		// The scopes the person kept, those with a choice granted as they chose (package scopechoice).
		g, cerr := demoChoices.Grant(r.PostForm["scope"], r.PostForm)
		if cerr != nil {
			s.render(rw, http.StatusBadRequest, "device_enter", map[string]interface{}{"Who": who, "Code": typedCode(code),
				"Error": pageError{What: "An answer to a question about what the device may do was missing, so nothing was changed.", Next: "Press Continue and answer each question."}})
			return
		}
		d.GrantedScopes, d.ChosenScopes = g.Scopes, g.Chosen
		a, err = s.deviceGrant.Verifier.Approve(ctx, code, caller(r, who), d)
		if errors.Is(err, rfc8628.ErrAlertFailed) {
			// The approval stands; only the e-mail about it failed.
			s.log.ErrorContext(ctx, "device approval alert not sent", "debug", fosite.ErrorToRFC6749Error(err).DebugField)
			err = nil
		}
	} else {
		a, err = s.deviceGrant.Verifier.Deny(ctx, code, caller(r, who), who.Subject, "")
	}
	if err != nil {
		s.render(rw, statusOf(err), "device_enter", map[string]interface{}{"Who": who, "Error": userMessage(err), "Code": typedCode(code)})
		return
	}
	s.render(rw, http.StatusOK, "device_done", map[string]interface{}{"Who": who, "Approved": approved, "ClientName": clientName(a.Client)})
}

// grantsNow is the grants' clock.
func (s *Server) grantsNow() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// deviceQR serves the QR code of verification_uri_complete for a user code, as PNG (default) or SVG
// (?format=svg), for devices to show (RFC 8628 §3.3.1). It reveals nothing the device does not already
// show, and does not look the code up.
func (s *Server) deviceQR(rw http.ResponseWriter, r *http.Request) {
	format := s.deviceGrant.Options().UserCodeFormat
	code := format.Normalize(r.URL.Query().Get("user_code"))
	if len(code) != format.Length {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "The user_code parameter is missing or malformed."})
		return
	}
	uri := pending.CompleteVerificationURI(s.deviceGrant.Options().VerificationURI, format.Display(code))
	var (
		body []byte
		err  error
		ct   string
	)
	if r.URL.Query().Get("format") == "svg" {
		ct = "image/svg+xml"
		body, err = qrcode.SVG(uri)
	} else {
		ct = "image/png"
		body, err = qrcode.PNG(uri, 320)
	}
	if err != nil {
		writeJSON(rw, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	rw.Header().Set("Content-Type", ct)
	rw.Header().Set("Cache-Control", "no-store")
	_, _ = rw.Write(body)
}

// admin guards the admin API with the bearer admin token, compared in constant time.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if !s.adminAuthorized(r) {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The admin API needs the admin bearer token."})
			return
		}
		form, err := rfc6749.ParseForm(r)
		if err != nil {
			writeRFCError(rw, err)
			return
		}
		r.PostForm = form
		h(rw, r)
	}
}

func (s *Server) adminAuthorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(s.opts.AdminToken)) == 1
}

// adminDeviceApprove approves a device request for a subject: form user_code, subject, optional scope
// (space separated; without it, what the client requested is granted).
func (s *Server) adminDeviceApprove(rw http.ResponseWriter, r *http.Request) {
	subject := r.PostFormValue("subject")
	if subject == "" {
		writeRFCError(rw, fosite.ErrInvalidRequest.WithHint("The 'subject' parameter is missing."))
		return
	}
	d := pending.Decision{Subject: subject, Actor: r.PostFormValue("actor"), Session: s.newSession(subject, time.Now())}
	if sc := r.PostFormValue("scope"); sc != "" {
		d.GrantedScopes = strings.Fields(sc)
	}
	a, err := s.deviceGrant.Verifier.Approve(r.Context(), r.PostFormValue("user_code"), adminCaller(r), d)
	if err != nil {
		writeRFCError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]interface{}{"status": "approved", "client_id": a.Client.GetID(), "subject": subject, "request_id": a.RequestID})
}

// adminDeviceDeny denies a device request: form user_code.
func (s *Server) adminDeviceDeny(rw http.ResponseWriter, r *http.Request) {
	a, err := s.deviceGrant.Verifier.Deny(r.Context(), r.PostFormValue("user_code"), adminCaller(r), r.PostFormValue("subject"), r.PostFormValue("actor"))
	if err != nil {
		writeRFCError(rw, err)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]interface{}{"status": "denied", "client_id": a.Client.GetID(), "request_id": a.RequestID})
}

// writeRFCError writes err as an RFC 6749 §5.2 style JSON error, without debug details.
func writeRFCError(rw http.ResponseWriter, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	body := map[string]string{"error": rfc.ErrorField}
	if d := rfc.GetDescription(); d != "" {
		body["error_description"] = d
	}
	writeJSON(rw, rfc.CodeField, body)
}

func statusOf(err error) int { return fosite.ErrorToRFC6749Error(err).CodeField }

// pageError is an error as a page shows it: what happened, then what to do next.
type pageError struct {
	What, Next string
}

// userMessage says what went wrong with a typed user code, and what to do.
func userMessage(err error) pageError {
	if m, ok := policyMessage(err); ok {
		return m
	}
	switch {
	case errors.Is(err, pending.ErrTooManyAttempts):
		return pageError{
			What: "Too many wrong codes were entered, so codes are not being checked for now.",
			Next: "Wait 15 minutes, then enter the code again. This protects your account from people guessing codes.",
		}
	case errors.Is(err, rfc8628.ErrInvalidUserCode):
		return pageError{
			What: "That code does not match any device waiting to connect.",
			Next: "Check it against the code on your device's screen and try again. If the device shows a new code, the old one expired: use the new one.",
		}
	}
	return pageError{What: "Something went wrong on our side, and nothing was changed.", Next: "Try again in a moment."}
}
