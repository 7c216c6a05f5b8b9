package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/integration/hydra/hydragrants"
)

// maxFormBytes bounds the body of a form this server parses itself.
const maxFormBytes = 64 << 10

// requireAdmin guards every /admin/ route, Hydra's included (Hydra's admin API has no authentication
// of its own: Hydra expects it on a private network), with the admin bearer token.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		const prefix = "Bearer "
		if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) ||
			subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(s.opts.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The admin API needs the admin bearer token."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// parseForm reads an application/x-www-form-urlencoded body of at most maxFormBytes in which no
// parameter is repeated (RFC 6749 §3.2), into r.PostForm.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return fosite.ErrInvalidRequest.WithHint("The body must be application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The form could not be read.")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The '%s' parameter must not be included more than once.", k)
		}
	}
	return nil
}

// adminCaller is who calls the admin API, for the guessing limits of the user-code lookups.
func adminCaller(r *http.Request) pending.Caller {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return pending.Caller{Address: host, Account: "admin"}
}

// adminDeviceApprove approves a device request for a user (scripted approval): form user_code,
// subject, optional scope (space-separated, a subset of what the device asked for). The tokens carry
// the demo user's claims as the demo consent app would grant them.
func (s *Server) adminDeviceApprove(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		writeRFCError(w, err)
		return
	}
	ctx := r.Context()
	subject := r.PostFormValue("subject")
	if subject == "" {
		writeRFCError(w, fosite.ErrInvalidRequest.WithHint("The 'subject' parameter is missing."))
		return
	}
	code := r.PostFormValue("user_code")
	a, err := s.device.Verifier.Lookup(ctx, code, adminCaller(r))
	if err != nil {
		writeRFCError(w, err)
		return
	}
	granted := []string(a.RequestedScopes)
	if sc := r.PostFormValue("scope"); sc != "" {
		granted = strings.Fields(sc)
	}
	sess, sub, err := hydragrants.NewSession(ctx, s.reg, a.Client, hydragrants.Identity{Subject: subject, IDToken: demoClaims(subject, granted)})
	if err != nil {
		writeRFCError(w, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	a, err = s.device.Verifier.Approve(ctx, code, adminCaller(r), pending.Decision{Subject: sub, Actor: "admin", Session: sess, GrantedScopes: granted})
	if err != nil && !errors.Is(err, rfc8628.ErrAlertFailed) {
		writeRFCError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "approved", "client_id": a.Client.GetID(), "subject": sub, "request_id": a.RequestID})
}

// adminDeviceDeny denies a device request: form user_code.
func (s *Server) adminDeviceDeny(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		writeRFCError(w, err)
		return
	}
	a, err := s.device.Verifier.Deny(r.Context(), r.PostFormValue("user_code"), adminCaller(r), r.PostFormValue("subject"), "admin")
	if err != nil {
		writeRFCError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "denied", "client_id": a.Client.GetID(), "request_id": a.RequestID})
}

// adminCIBADecide approves or denies a CIBA request (CIBA Core §8, as the user's authentication device
// would): form auth_req_id, optional subject (the user the request is for, by default the one its hint
// named).
func (s *Server) adminCIBADecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(w, r); err != nil {
			writeRFCError(w, err)
			return
		}
		ctx := r.Context()
		id := r.PostFormValue("auth_req_id")
		if id == "" {
			writeRFCError(w, fosite.ErrInvalidRequest.WithHint("The 'auth_req_id' parameter is missing."))
			return
		}
		sig, err := pending.NewCodes(s.config()).HandleSignature(ctx, id)
		if err != nil {
			writeRFCError(w, fosite.ErrInvalidGrant.WithHint("The auth_req_id is unknown."))
			return
		}
		g, err := s.Store().GetPendingGrant(ctx, pending.KindCIBA, sig, nil)
		if errors.Is(err, pending.ErrNotFound) {
			writeRFCError(w, fosite.ErrInvalidGrant.WithHint("The auth_req_id is unknown."))
			return
		} else if err != nil {
			writeRFCError(w, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		subject := r.PostFormValue("subject")
		if subject == "" {
			subject = g.Subject
		}
		if subject == "" {
			writeRFCError(w, fosite.ErrInvalidRequest.WithHint("This request has no user yet."))
			return
		}
		ref := g.Request.GetID()
		if approve {
			scopes := []string(g.Request.GetRequestedScopes())
			var sess fosite.Session
			sess, subject, err = hydragrants.NewSession(ctx, s.reg, g.Request.GetClient(), hydragrants.Identity{Subject: subject, IDToken: demoClaims(subject, scopes)})
			if err == nil {
				err = s.ciba.Decider.Approve(ctx, ref, pending.Decision{Subject: subject, Actor: "admin", Session: sess})
			}
		} else {
			err = s.ciba.Decider.Deny(ctx, ref, subject)
		}
		if errors.Is(err, ciba.ErrRequestNotFound) {
			writeRFCError(w, fosite.ErrInvalidGrant.WithHint("The request is not pending for that subject: already decided, expired, or another user's."))
			return
		} else if err != nil {
			writeRFCError(w, err)
			return
		}
		status := "denied"
		if approve {
			status = "approved"
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status, "client_id": g.ClientID(), "subject": subject, "request_id": ref})
	}
}

// writeRFCError writes err as RFC 6749 §5.2 JSON, without debug details.
func writeRFCError(w http.ResponseWriter, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	body := map[string]string{"error": rfc.ErrorField}
	if d := rfc.GetDescription(); d != "" {
		body["error_description"] = d
	}
	writeJSON(w, rfc.CodeField, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
