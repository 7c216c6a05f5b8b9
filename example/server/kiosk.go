package server

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/notify"
)

// KioskOptions configure the example's staffed-kiosk, audit and device-alert demo.
type KioskOptions struct {
	// AuditKey signs the audit log (ES256); nil means a key derived from the global secret, so that the
	// log still verifies after a restart with the same keys file. DEMO: a real server keeps a separate
	// key in a KMS, so that the token secret cannot rewrite the audit log.
	AuditKey *ecdsa.PrivateKey
	// AuditStorage keeps the audit log; nil means the store when it is an audit.Storage (the SQL
	// store), else memory.
	AuditStorage audit.Storage
	// PrintedCodeKey is demo-printed's key for pre-printed user codes; nil means DemoPrintedCodeKey.
	PrintedCodeKey []byte
}

// DemoPrintedCodeKey is the demo key of pre-printed user codes: SHA-256 of a published phrase. DEMO:
// a real key is 32 random bytes shared only with the factory.
var DemoPrintedCodeKey = func() []byte {
	k := sha256.Sum256([]byte("DEMO printed user-code key of fosite-contrib/grants"))
	return k[:]
}()

// kioskState is the example's kiosk, audit and alert state.
type kioskState struct {
	auditStore audit.Storage
	auditKey   *ecdsa.PrivateKey
	auditLog   *audit.Log
}

// DEMO: who is kiosk staff. Staff-ness is explicit: a signed-in user is staff only when listed here.
var kioskStaff = map[string]bool{"staff": true}

// The demo clients of the kiosk and PIN/QR demos.
const (
	// demoKioskApp is the phone app of the staffed-kiosk deployment: its codes live a week, and after
	// approval it has another week to pick the token up.
	demoKioskApp = "demo-kiosk-app"
	// demoPrinted is a display-less device whose user code is printed in its box (device_serial).
	demoPrinted = "demo-printed"
)

func init() {
	demoUsers["staff"] = demoUser{Subject: "staff", Name: "Kiosk Staff", Email: "staff@example.com", Password: "staff-password"}
	titles["kiosk"] = "Kiosk"
	titles["kiosk_done"] = "Kiosk"
	titles["device_deactivated"] = "Device disconnected"
}

// staffDirectory implements rfc8628.StaffDirectory from kioskStaff.
type staffDirectory struct{}

func (staffDirectory) IsStaff(_ context.Context, actor string) (bool, error) {
	return kioskStaff[actor], nil
}

// demoAccounts implements rfc8628.Accounts: an account is named by user name, e-mail address or
// account number, in any letter case.
type demoAccounts struct{}

func (demoAccounts) ResolveAccount(_ context.Context, hint string) (string, error) {
	if hint = strings.TrimSpace(hint); hint == "" {
		return "", rfc8628.ErrUnknownAccount
	}
	for _, u := range demoUsers {
		if strings.EqualFold(hint, u.Subject) || strings.EqualFold(hint, u.Email) || strings.EqualFold(hint, demoAccountNumbers[u.Subject]) {
			return u.Subject, nil
		}
	}
	return "", rfc8628.ErrUnknownAccount
}

// setupAudit opens the audit log the grants record into (the store's, else in memory), signed with the
// configured key or one derived from the global secret.
func (s *Server) setupAudit() error {
	o := s.opts.Kiosk
	st := &s.kiosk
	st.auditKey = o.AuditKey
	if st.auditKey == nil {
		k, err := deriveAuditKey(s.opts.GlobalSecret)
		if err != nil {
			return err
		}
		st.auditKey = k
	}
	st.auditStore = o.AuditStorage
	if st.auditStore == nil {
		if as, ok := s.store.(audit.Storage); ok {
			st.auditStore = as
		} else {
			st.auditStore = audit.NewMemoryStorage() // DEMO: the log is lost on restart
		}
	}
	log, err := audit.NewLog(st.auditStore, jose.SigningKey{Algorithm: jose.ES256, Key: st.auditKey},
		audit.Options{Issuer: s.opts.Issuer, KeyID: auditKeyID, Now: s.opts.Now})
	if err != nil {
		return err
	}
	st.auditLog = log
	return nil
}

// setupKiosk registers the kiosk demo's clients.
func (s *Server) setupKiosk(ctx context.Context) error {
	hash, err := demoConfidentialHash()
	if err != nil {
		return err
	}
	for _, c := range []fosite.Client{
		&fosite.DefaultClient{ID: demoKioskApp, Public: true, Scopes: demoScopes,
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}},
		// DEMO: shares demo-confidential's secret.
		&fosite.DefaultClient{ID: demoPrinted, Secret: hash, Scopes: demoScopes,
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}},
	} {
		if err := s.store.SetClient(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// deriveAuditKey derives the demo's ES256 audit key from the global secret (HMAC-SHA256 as the P-256
// scalar; a value out of range, which has probability about 2^-32, takes the next counter).
func deriveAuditKey(secret []byte) (*ecdsa.PrivateKey, error) {
	for i := byte(0); i < 16; i++ {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("example audit signing key v1"))
		m.Write([]byte{i})
		k, err := ecdh.P256().NewPrivateKey(m.Sum(nil))
		if err != nil {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		parsed, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, err
		}
		if ek, ok := parsed.(*ecdsa.PrivateKey); ok {
			return ek, nil
		}
	}
	return nil, errors.New("cannot derive the audit key")
}

// auditKeyID names the audit key in the SETs and the JWKS.
const auditKeyID = "example-audit-1"

// AuditJWKS returns the public key set the audit log verifies with (served at /admin/audit/jwks).
func (s *Server) AuditJWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.kiosk.auditKey.PublicKey, KeyID: auditKeyID, Algorithm: string(jose.ES256), Use: "sig"}}}
}

// VerifyAuditLog verifies the whole audit chain in st with the keys in jwks (JSON), against anchor
// ("<seq>:<hash>") when it is not empty. It is the audit-verify command's work.
func VerifyAuditLog(ctx context.Context, st audit.Storage, jwks []byte, anchor string) (audit.Report, error) {
	return ReadAuditLog(ctx, st, jwks, anchor, nil)
}

// ReadAuditLog is VerifyAuditLog that also passes each verified event, in order, to visit (when not
// nil); an error of visit stops the reading.
func ReadAuditLog(ctx context.Context, st audit.Storage, jwks []byte, anchor string, visit func(seq int64, e audit.Event) error) (audit.Report, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return audit.Report{}, fmt.Errorf("read the key set: %w", err)
	}
	v := &audit.Verifier{Keys: audit.KeySet(&set), Visit: visit}
	if anchor != "" {
		h, err := audit.ParseHead(anchor)
		if err != nil {
			return audit.Report{}, err
		}
		v.Anchor = h
	}
	return v.Verify(ctx, st)
}

// auditExpiries runs rfc8628.AuditExpired every five minutes until ctx ends.
func (s *Server) auditExpiries(ctx context.Context, ls rfc8628.KioskStorage, sink audit.Sink) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	after := s.grantsNow().Add(-24 * time.Hour)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.grantsNow()
			if _, err := rfc8628.AuditExpired(ctx, ls, sink, after, now); err != nil {
				s.log.Error("auditing expired device grants failed", "error", err)
				continue
			}
			after = now
		}
	}
}

// demoAlertDestination is where the demo alerts a user: their e-mail address.
func demoAlertDestination(_ context.Context, subject string) (notify.Channel, string, error) {
	if u, ok := demoUsers[subject]; ok {
		return notify.Email, u.Email, nil
	}
	return "", "", nil
}

// AuditStorage returns the audit log's storage (for tools and tests).
func (s *Server) AuditStorage() audit.Storage { return s.kiosk.auditStore }

// AuditKeys returns the key the audit log verifies with.
func (s *Server) AuditKeys() audit.KeyFunc { return audit.PublicKey(&s.kiosk.auditKey.PublicKey) }

func (s *Server) kioskRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /kiosk", s.kioskPage)
	m.HandleFunc("POST /kiosk", s.kioskDecide)
	m.HandleFunc("GET /device/deactivate", s.deviceDeactivateLink)
	m.HandleFunc("POST /device/deactivate", s.deviceDeactivateOwn)
	m.HandleFunc("GET /admin/device/pending", s.adminGet(s.adminDevicePending))
	m.HandleFunc("POST /admin/device/kiosk/approve", s.admin(s.adminKioskDecide(true)))
	m.HandleFunc("POST /admin/device/kiosk/deny", s.admin(s.adminKioskDecide(false)))
	m.HandleFunc("GET /admin/audit/verify", s.adminGet(s.adminAuditVerify))
	m.HandleFunc("GET /admin/audit/jwks", s.adminGet(func(rw http.ResponseWriter, r *http.Request) { writeJSON(rw, http.StatusOK, s.AuditJWKS()) }))
}

// kioskPage is the staff page: look up an account, see its pending device requests (everything but
// the user code, which is stored only as a hash), and approve one by typing the code the person reads
// out, with the ID check, or deny one.
func (s *Server) kioskPage(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	s.renderKioskStaff(rw, r, who, http.StatusOK, strings.TrimSpace(r.URL.Query().Get("login_hint")), nil)
}

// kioskTyped is what the staff member typed into one request's form, given back after an error.
type kioskTyped struct {
	UserCode, Method, Reference string
	Error                       *pageError
}

// proofingMethods are the kiosk's choices of ID check.
var proofingMethods = []struct{ Value, Label string }{
	{"", "(choose)"}, {"id_card", "National ID card"}, {"passport", "Passport"}, {"driving_licence", "Driving licence"},
}

// renderKioskStaff renders the staff page for the account hint: its pending requests, and, after a
// failed decision, that request with what was typed and why it failed.
func (s *Server) renderKioskStaff(rw http.ResponseWriter, r *http.Request, who *signedIn, status int, hint string, failed *kioskDecisionFailure) {
	data := map[string]interface{}{"Who": who, "LoginHint": hint, "ProofingMethods": proofingMethods, "Typed": map[string]kioskTyped{}}
	if !kioskStaff[who.Subject] {
		data["Error"] = pageError{What: "Only kiosk staff may use this page.", Next: "Sign out, then sign in with a staff account."}
		s.render(rw, http.StatusForbidden, "kiosk", data)
		return
	}
	if failed != nil {
		status = statusOf(failed.err)
		msg := kioskMessage(failed.err)
		data["Typed"] = map[string]kioskTyped{failed.d.RequestID: {UserCode: typedCode(failed.d.UserCode),
			Method: failed.d.Proofing.Method, Reference: failed.d.Proofing.Reference, Error: &msg}}
	}
	if hint != "" {
		reqs, err := s.deviceGrant.Kiosk.Pending(r.Context(), who.Subject, hint)
		if err != nil {
			data["Error"] = kioskMessage(err)
			s.render(rw, statusOf(err), "kiosk", data)
			return
		}
		views := s.kioskViews(reqs, hint)
		data["Requests"] = views
		data["Searched"] = true
		if failed != nil && !hasRequest(views, failed.d.RequestID) {
			// The request is gone (decided elsewhere or expired): say so above the list.
			data["Error"] = kioskMessage(failed.err)
		}
	}
	s.render(rw, status, "kiosk", data)
}

// kioskDecisionFailure is a staff decision that failed, to show again with its error.
type kioskDecisionFailure struct {
	d   rfc8628.KioskDecision
	err error
}

type kioskView struct {
	rfc8628.KioskRequest
	Facts  requestFacts
	Scopes []scopeView
}

func (s *Server) kioskViews(reqs []rfc8628.KioskRequest, account string) []kioskView {
	now := s.grantsNow()
	out := make([]kioskView, 0, len(reqs))
	for _, q := range reqs {
		out = append(out, kioskView{KioskRequest: q, Scopes: describeScopes(q.RequestedScopes), Facts: requestFacts{
			ClientName: clientName(q.Client), ClientID: q.Client.GetID(), Device: q.Device,
			CreatedAt: q.CreatedAt, Now: now, Account: account, AccountLabel: "Customer's account",
		}})
	}
	return out
}

func hasRequest(views []kioskView, id string) bool {
	for _, v := range views {
		if v.RequestID == id {
			return true
		}
	}
	return false
}

// kioskDecide records a staff member's approval or denial. When it fails, the page shows the account's
// requests again, with what the staff member typed and the reason next to the request.
func (s *Server) kioskDecide(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.render(rw, http.StatusForbidden, "kiosk", map[string]interface{}{"Who": who, "LoginHint": strings.TrimSpace(r.PostFormValue("login_hint")),
			"Error": pageError{What: "The form expired or was not sent from this page, so nothing was changed.", Next: "Search for the account again."}})
	})
	if !ok {
		return
	}
	approve := r.PostFormValue("action") == "approve"
	d := kioskDecisionFrom(r, who.Subject)
	a, err := s.kioskApply(r.Context(), approve, d)
	if err != nil {
		s.renderKioskStaff(rw, r, who, http.StatusOK, d.LoginHint, &kioskDecisionFailure{d: d, err: err})
		return
	}
	data := map[string]interface{}{"Who": who, "LoginHint": d.LoginHint}
	data["Approved"] = approve
	data["ClientID"] = clientName(a.Client)
	data["RequestID"] = a.RequestID
	s.render(rw, http.StatusOK, "kiosk_done", data)
}

func kioskDecisionFrom(r *http.Request, actor string) rfc8628.KioskDecision {
	return rfc8628.KioskDecision{
		Actor:      actor,
		LoginHint:  strings.TrimSpace(r.PostFormValue("login_hint")),
		RequestID:  r.PostFormValue("request_id"),
		UserCode:   r.PostFormValue("user_code"),
		Proofing:   rfc8628.Proofing{Method: strings.TrimSpace(r.PostFormValue("proofing_method")), Reference: strings.TrimSpace(r.PostFormValue("proofing_reference"))},
		RemoteAddr: remoteAddr(r),
	}
}

func (s *Server) kioskApply(ctx context.Context, approve bool, d rfc8628.KioskDecision) (*rfc8628.Authorization, error) {
	if approve {
		return s.deviceGrant.Kiosk.Approve(ctx, d)
	}
	return s.deviceGrant.Kiosk.Deny(ctx, d)
}

// kioskMessage says what went wrong for kiosk staff, and what to do.
func kioskMessage(err error) pageError {
	switch {
	case errors.Is(err, rfc8628.ErrNotStaff):
		return pageError{What: "Only kiosk staff may do this.", Next: "Sign in with a staff account."}
	case errors.Is(err, rfc8628.ErrUnknownAccount):
		return pageError{What: "No account has that identifier.", Next: "Check the spelling with the customer, or try their e-mail address."}
	case errors.Is(err, rfc8628.ErrInvalidUserCode):
		return pageError{What: "That code does not match a pending request of this account.", Next: "Ask the customer to read the code from the device again. If the device shows a new code, this request may be an old one: search again."}
	case errors.Is(err, pending.ErrTooManyAttempts):
		return pageError{What: "Too many wrong codes were typed for this account.", Next: "Wait 15 minutes before trying again."}
	}
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField < 500 && rfc.HintField != "" {
		return pageError{What: rfc.HintField, Next: "Correct it and try again."}
	}
	return pageError{What: "Something went wrong on our side, and nothing was changed.", Next: "Try again in a moment."}
}

// adminGet guards a GET admin endpoint with the admin bearer token.
func (s *Server) adminGet(h http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if !s.adminAuthorized(r) {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The admin API needs the admin bearer token."})
			return
		}
		h(rw, r)
	}
}

// adminDevicePending lists an account's pending device requests: query login_hint and actor (a staff
// member on whose behalf the admin tool acts).
func (s *Server) adminDevicePending(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	reqs, err := s.deviceGrant.Kiosk.Pending(r.Context(), q.Get("actor"), q.Get("login_hint"))
	if err != nil {
		writeRFCError(rw, err)
		return
	}
	out := make([]map[string]interface{}, 0, len(reqs))
	for _, q := range reqs {
		out = append(out, map[string]interface{}{
			"request_id": q.RequestID, "client_id": q.Client.GetID(), "scope": strings.Join(q.RequestedScopes, " "),
			"login_hint": q.LoginHint, "account": q.Account, "device_address": q.Device.RemoteAddr, "device_user_agent": q.Device.UserAgent,
			"device_serial": q.DeviceSerial, "created_at": q.CreatedAt.Unix(), "expires_at": q.ExpiresAt.Unix(),
			"age_seconds": int64(q.Age / time.Second),
		})
	}
	writeJSON(rw, http.StatusOK, map[string]interface{}{"login_hint": q.Get("login_hint"), "pending": out})
}

// adminKioskDecide approves (form actor, login_hint, user_code, proofing_method, optional
// proofing_reference and request_id) or denies (actor, login_hint, request_id) for a staff member.
func (s *Server) adminKioskDecide(approve bool) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		d := kioskDecisionFrom(r, r.PostFormValue("actor"))
		d.RemoteAddr = "admin"
		a, err := s.kioskApply(r.Context(), approve, d)
		if err != nil {
			writeRFCError(rw, err)
			return
		}
		status := "denied"
		if approve {
			status = "approved"
		}
		writeJSON(rw, http.StatusOK, map[string]interface{}{"status": status, "client_id": a.Client.GetID(), "request_id": a.RequestID, "actor": d.Actor})
	}
}

// adminAuditVerify verifies the whole audit chain and reports its head (copy it somewhere safe to
// anchor later checks; see package audit).
func (s *Server) adminAuditVerify(rw http.ResponseWriter, r *http.Request) {
	v := &audit.Verifier{Keys: s.AuditKeys()}
	if a := r.URL.Query().Get("anchor"); a != "" {
		h, err := audit.ParseHead(a)
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "The anchor must be <seq>:<hash>."})
			return
		}
		v.Anchor = h
	}
	rep, err := v.Verify(r.Context(), s.kiosk.auditStore)
	if err != nil {
		var te *audit.TamperError
		if errors.As(err, &te) {
			writeJSON(rw, http.StatusConflict, map[string]interface{}{"valid": false, "error": te.Error(), "verified_records": rep.Records, "head": rep.Head.String()})
			return
		}
		writeJSON(rw, http.StatusInternalServerError, map[string]interface{}{"error": "server_error"})
		return
	}
	writeJSON(rw, http.StatusOK, map[string]interface{}{"valid": true, "records": rep.Records, "head": rep.Head.String()})
}

// deviceDeactivateLink takes the one-click link of an approval alert: it deactivates the grant and
// revokes its tokens at once, without sign-in (the link is the credential: signed, single-use,
// expiring). A mail scanner that fetches the link deactivates the grant too, which errs on the safe
// side.
func (s *Server) deviceDeactivateLink(rw http.ResponseWriter, r *http.Request) {
	who, _ := s.cookies.get(r)
	d, err := s.deviceGrant.Alerter.Deactivate(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		s.render(rw, statusOf(err), "device_deactivated", map[string]interface{}{"Who": who, "Error": fosite.ErrorToRFC6749Error(err).GetDescription()})
		return
	}
	s.render(rw, http.StatusOK, "device_deactivated", map[string]interface{}{"Who": who, "ClientID": d.ClientID})
}

// deviceDeactivateOwn deactivates one of the signed-in user's earlier approvals (from the
// repeat-approval warning): form request_id, csrf.
func (s *Server) deviceDeactivateOwn(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.render(rw, http.StatusForbidden, "device_deactivated", map[string]interface{}{"Who": who, "Error": "The form expired. Go back and try again."})
	})
	if !ok {
		return
	}
	d, err := s.deviceGrant.Alerter.DeactivateFor(r.Context(), who.Subject, r.PostFormValue("request_id"))
	if err != nil {
		s.render(rw, statusOf(err), "device_deactivated", map[string]interface{}{"Who": who, "Error": "No device connection of yours has that ID: it may have been disconnected already."})
		return
	}
	s.render(rw, http.StatusOK, "device_deactivated", map[string]interface{}{"Who": who, "ClientID": d.ClientID})
}
