package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The example's OpenID CIBA demo:
//
//   - POST /oauth2/bc-authorize is the backchannel authentication endpoint (CIBA Core §7);
//   - demo-ciba-poll, demo-ciba-ping and demo-ciba-push are confidential clients, one per delivery
//     mode, with the secret DemoCIBASecret; all three opt in to the enrolment fallback;
//   - login_hint names a demo user: "alice", "bob", or their e-mail address;
//   - alice's authentication device is her e-mail: each request sends her a link (see /dev/outbox)
//     to an approve/deny page (package handler/ciba/linkchannel);
//   - bob has no device: a request for him is answered with a user code; at /ciba/enroll he signs in,
//     links his e-mail as his device and approves; later requests reach him by e-mail;
//   - carol's authentication device is the /ciba page itself (kind "app": an authenticator app that
//     shows her pending requests when she opens it): nothing is sent;
//   - /ciba lists the signed-in user's pending requests, to approve or deny there (a demo
//     authentication device);
//   - POST /admin/ciba/approve and /admin/ciba/deny decide by auth_req_id;
//   - ping and push callbacks leave through the durable outbox, delivered by a worker that runs with
//     the server (loopback http allowed: DEMO).

// DemoCIBASecret is the client secret of demo-ciba-poll, demo-ciba-ping and demo-ciba-push. DEMO:
// published in the README.
const DemoCIBASecret = "demo-ciba-secret"

// The demo notification endpoints, where `go run ./example/client ciba -mode ping|push` listens.
const (
	DefaultCIBAPingEndpoint = "http://127.0.0.1:8091/cb"
	DefaultCIBAPushEndpoint = "http://127.0.0.1:8092/cb"
)

// CIBAOptions configure the example's CIBA demo.
type CIBAOptions struct {
	// PingEndpoint and PushEndpoint are the backchannel_client_notification_endpoint of demo-ciba-ping
	// and demo-ciba-push; empty means DefaultCIBAPingEndpoint and DefaultCIBAPushEndpoint. Tests point
	// them at their own listener.
	PingEndpoint string
	PushEndpoint string
	// PollingInterval overrides the CIBA polling interval (default 5s).
	PollingInterval time.Duration
	// AskDateOfBirth makes the e-mail link page ask for the user's date of birth before an approval
	// (a knowledge factor on top of the mailbox; DEMO dates: alice 1865-11-26, bob 1998-04-12). It is
	// Knowledge = KnowledgeBirthDate.
	AskDateOfBirth bool
	// Knowledge names the knowledge factor an approval by e-mail link or text-message reply needs
	// (KnowledgeAccountDigits, KnowledgeBirthDate); empty asks for none.
	Knowledge string
	// SMSWebhookKey is the key the SMS provider signs incoming messages with (its auth token); nil
	// means DEMO a key derived from the global secret (Server.SMSWebhookKey).
	SMSWebhookKey []byte
}

// cibaState is the example's CIBA state.
type cibaState struct {
	// devices are the users' enrolled authentication devices, kept in the store (ciba_devices), so
	// that after a restart an enrolled user still takes the normal path.
	devices *ciba.Devices
	// hintTokens verifies login_hint_tokens; userCodes checks CIBA user codes (ciba_token.go).
	hintTokens *ciba.LoginHintTokens
	userCodes  *ciba.UserCodes

	link *linkchannel.Channel
	sms  *smschannel.Channel
}

// DEMO: dates of birth for the optional knowledge check.
var demoBirthDates = map[string]string{"alice": "1865-11-26", "bob": "1998-04-12", "carol": "1968-03-01"}

// deviceKindApp is the demo's in-app authentication device: the /ciba page lists the user's pending
// requests when they open it, so Notify sends nothing (a real app would get a push through the outbox).
const deviceKindApp = "app"

func init() {
	titles["ciba_requests"] = "Sign-in requests"
	titles["ciba_enroll_enter"] = "Link a sign-in device"
	titles["ciba_enroll_confirm"] = "Link a sign-in device"
	titles["ciba_enroll_done"] = "Link a sign-in device"
}

// cibaOptions configure CIBA: the endpoints, the demo's hint resolver, authentication devices and
// enroller, and ping and push callbacks through the outbox.
func (s *Server) cibaOptions() ciba.Options {
	s.ciba.devices = s.newDevices()
	s.ciba.hintTokens, s.ciba.userCodes = s.newLoginHintTokens(), s.newUserCodes()
	iss := s.opts.Issuer
	o := ciba.Options{
		BackchannelURL:    iss + "/oauth2/bc-authorize",
		VerificationURI:   iss + "/ciba/enroll",
		PollingInterval:   s.opts.CIBA.PollingInterval,
		Resolver:          cibaResolver{s},
		Devices:           cibaDevices{s},
		Enroller:          s.ciba.devices,
		UserCodes:         s.ciba.userCodes,
		DPoP:              s.dpop,     // a proof at the backchannel request binds the request's tokens
		AllowLoopbackHTTP: s.opts.Dev, // DEMO: the example client listens on loopback http
		Policy:            s.policy(cibaPolicy(s.opts.Policy.CIBA)),
		Audit:             s.kiosk.auditLog,
		Now:               s.opts.Now,
		Logger:            s.log,
	}
	if s.queue != nil {
		o.Outbox, o.Kick = compose.OutboxCallbacks{Queue: s.queue}, s.kick
	}
	return o
}

// cibaPolicy is the CIBA policy: the library's defaults (5 requests per user per 15 minutes) and, unless
// set, at most 300 requests per client per 15 minutes, which stops a client asking many users at once
// (RFC 10027 example B4.1) while leaving room for a busy call centre. DEMO: size it to your clients.
func cibaPolicy(p pending.Policy) pending.Policy {
	if p.Initiation.PerClient == 0 {
		p.Initiation.PerClient = 300
	}
	return p
}

// demoCIBAHash is bcrypt(cost 10) of DemoCIBASecret, computed once.
var demoCIBAHash = sync.OnceValues(func() ([]byte, error) {
	return (&fosite.BCrypt{Config: &fosite.Config{HashCost: 10}}).Hash(context.Background(), []byte(DemoCIBASecret))
})

// setupCIBA registers the CIBA demo clients and opens the e-mail link channel.
func (s *Server) setupCIBA(ctx context.Context) error {
	if err := checkKnowledgeOption(s.opts.CIBA.Knowledge); err != nil {
		return err
	}
	p := s.cibaGrant
	hash, err := demoCIBAHash()
	if err != nil {
		return err
	}
	ping, push := s.opts.CIBA.PingEndpoint, s.opts.CIBA.PushEndpoint
	if ping == "" {
		ping = DefaultCIBAPingEndpoint
	}
	if push == "" {
		push = DefaultCIBAPushEndpoint
	}
	for _, c := range []struct {
		mode     ciba.DeliveryMode
		endpoint string
	}{{ciba.ModePoll, ""}, {ciba.ModePing, ping}, {ciba.ModePush, push}} {
		// A plain client (not a fosite.OpenIDConnectClient), so that fosite accepts both
		// client_secret_basic and client_secret_post, as client libraries differ in their default; the
		// CIBA registration metadata (CIBA Core §4) travels as a metadata map.
		client := &metadataClient{
			DefaultClient: &fosite.DefaultClient{
				ID: "demo-ciba-" + string(c.mode), Secret: hash, Scopes: demoScopes,
				GrantTypes: []string{string(ciba.GrantType), "refresh_token"},
			},
			metadata: map[string]any{
				ciba.MetaClientName:                 "Demo CIBA app (" + string(c.mode) + ")",
				ciba.MetaTokenDeliveryMode:          string(c.mode),
				ciba.MetaClientNotificationEndpoint: c.endpoint,
				ciba.MetaEnrollmentFallback:         true,
			},
		}
		if err := s.store.SetClient(ctx, client); err != nil {
			return err
		}
	}

	// The e-mail link channel is alice's (and, once enrolled, bob's) authentication device.
	links, ok := s.store.(linkchannel.Store)
	if !ok {
		links = &memory.CIBALinkStore{} // DEMO: links of the in-memory store are kept beside it
	}
	lc := linkchannel.Config{
		Sender: s.sender, Store: links, Secrets: s.fosite, LinkURL: s.opts.Issuer + "/ciba/link",
		Decider: p.Decider,
		NewSession: func(_ context.Context, subject string, authTime time.Time) fosite.Session {
			return s.newSession(subject, authTime)
		},
		DescribeAccount: demoAccountName,
		Now:             s.opts.Now, Logger: s.log,
	}
	if k := s.knowledgeCheck(); k != nil {
		lc.Knowledge, lc.Limiter = k, s.knowledgeLimiter()
	}
	if s.ciba.link, err = linkchannel.New(lc); err != nil {
		return err
	}
	// Dave's authentication device is his phone: he answers by replying to the text message.
	if err := s.setupSMS(); err != nil {
		return err
	}
	if err := s.setupCIBAHintClients(ctx); err != nil {
		return err
	}
	return s.seedDevices(ctx)
}

// expirePush tells push clients about requests that expired unanswered (CIBA Core §12), every minute.
func (s *Server) expirePush(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.cibaGrant.Decider.ExpirePush(ctx, 100); err != nil {
				s.log.Error("ciba: expiring push requests failed", slog.String("error", err.Error()))
			}
		}
	}
}

// DrainOutbox delivers the outbox messages that are due now (ping and push callbacks, device alerts),
// once, and returns how many it attempted (for tests and tools; the worker does this on its own).
func (s *Server) DrainOutbox(ctx context.Context) (int, error) {
	if s.worker == nil {
		return 0, errors.New("example: no outbox")
	}
	return s.worker.DrainOnce(ctx)
}

func (s *Server) cibaRoutes(m *http.ServeMux) {
	m.Handle("/oauth2/bc-authorize", s.cibaGrant.Backchannel)
	m.Handle("/ciba/link/", s.ciba.link.Handler())
	m.HandleFunc("GET /ciba", s.cibaPage)
	m.HandleFunc("POST /ciba", s.cibaDecide)
	m.HandleFunc("GET /ciba/enroll", s.cibaEnrollPage)
	m.HandleFunc("POST /ciba/enroll", s.cibaEnrollDecide)
	m.HandleFunc("POST /admin/ciba/approve", s.admin(s.adminCIBADecide(true)))
	m.HandleFunc("POST /admin/ciba/deny", s.admin(s.adminCIBADecide(false)))
	s.smsRoutes(m)
}

// cibaResolver resolves the demo's hints (CIBA Core §7.1) through one directory (demoSubjectOf): a
// login_hint is a user name, e-mail address, phone number or account number; a login_hint_token is a JWT
// signed by the client's registered key carrying an RFC 9493 subject identifier (ciba_token.go);
// id_token_hint names the subject of an ID token this server issued.
type cibaResolver struct{ s *Server }

func (r cibaResolver) ResolveHint(ctx context.Context, h ciba.Hint) (*ciba.User, error) {
	var subject string
	switch h.Kind {
	case ciba.HintLoginHint:
		subject = demoSubjectOf(h.Value)
	case ciba.HintLoginHintToken:
		// A JWT signed by the client's registered key, naming the user by an RFC 9493 identifier.
		id, err := r.s.ciba.hintTokens.Verify(ctx, h)
		if err != nil {
			return nil, err
		}
		subject = r.s.subjectOfIdentifier(id)
	case ciba.HintIDTokenHint:
		if _, ok := demoUsers[h.Subject]; ok {
			subject = h.Subject
		}
	}
	if subject == "" {
		return nil, ciba.ErrUnknownUserID
	}
	devices, err := r.s.ciba.devices.Reachable(ctx, subject)
	if err != nil {
		return nil, err
	}
	return &ciba.User{Subject: subject, Devices: devices}, nil
}

// cibaDevices reaches users through the channel of each device (made in setup, after Compose).
type cibaDevices struct{ s *Server }

func (d cibaDevices) Notify(ctx context.Context, n ciba.Notification) error {
	return d.s.notifyDevices(ctx, n)
}

// demoBirthDateCheck asks for the demo users' dates of birth on the link page.
type demoBirthDateCheck struct{}

func (demoBirthDateCheck) Fields(_ context.Context, subject string) []linkchannel.Field {
	if _, ok := demoBirthDates[subject]; !ok {
		return nil
	}
	return []linkchannel.Field{{Name: "birthdate", Label: "Your date of birth", Type: "date", Autocomplete: "bday",
		Prompt: "your date of birth (like 1981-02-15)"}}
}

func (demoBirthDateCheck) Verify(_ context.Context, subject string, form url.Values) error {
	want, ok := demoBirthDates[subject]
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(form.Get("birthdate"))), []byte(want)) != 1 {
		return linkchannel.ErrWrongAnswer
	}
	return nil
}

// cibaRequestView is a pending request as the /ciba page shows it.
type cibaRequestView struct {
	ciba.Request
	Scopes []scopeView
}

// cibaPage is the demo authentication device: the signed-in user's pending requests (CIBA Core §8).
func (s *Server) cibaPage(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	s.renderCIBARequests(rw, r, who, http.StatusOK, "", nil)
}

func (s *Server) renderCIBARequests(rw http.ResponseWriter, r *http.Request, who *signedIn, status int, done string, errMsg *pageError) {
	devices, derr := s.ciba.devices.List(r.Context(), who.Subject)
	reqs, err := s.cibaGrant.Decider.Pending(r.Context(), who.Subject)
	if err == nil {
		err = derr
	}
	if err != nil {
		s.log.Error("ciba: listing requests failed", slog.String("error", err.Error()))
		errMsg = &pageError{What: "Your requests could not be listed.", Next: "Reload the page in a moment."}
	}
	views := make([]cibaRequestView, 0, len(reqs))
	for _, q := range reqs {
		if q.ClientName == "" {
			q.ClientName = q.ClientID
		}
		views = append(views, cibaRequestView{Request: q, Scopes: describeScopes(q.Scopes)})
	}
	s.render(rw, status, "ciba_requests", map[string]interface{}{
		"Who": who, "Requests": views, "Devices": devices, "Done": done, "Error": errMsg,
	})
}

// cibaDecide approves or denies one of the signed-in user's requests.
func (s *Server) cibaDecide(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.renderCIBARequests(rw, r, who, http.StatusForbidden, "", &pageError{What: "The form expired, so nothing was changed.", Next: "Choose again below."})
	})
	if !ok {
		return
	}
	ref, action := r.PostFormValue("ref"), r.PostFormValue("action")
	approve := action == "approve"
	var err error
	switch action {
	case "approve":
		err = s.cibaGrant.Decider.Approve(r.Context(), ref, pending.Decision{Subject: who.Subject, Session: s.newSession(who.Subject, who.AuthTime)})
	case "report":
		// "I did not ask for this": denied, and flagged as abused (audited, announced).
		err = s.cibaGrant.Decider.Report(r.Context(), ref, who.Subject)
	default:
		err = s.cibaGrant.Decider.Deny(r.Context(), ref, who.Subject)
	}
	switch {
	case errors.Is(err, ciba.ErrRequestNotFound):
		s.renderCIBARequests(rw, r, who, http.StatusConflict, "", &pageError{What: "That request was already answered, or it expired.", Next: "Nothing was changed. If you still want to sign in, start again in the app."})
	case err != nil:
		s.renderCIBARequests(rw, r, who, statusOf(err), "", &pageError{What: "Something went wrong on our side, and nothing was changed.", Next: "Try again in a moment."})
	case approve:
		s.renderCIBARequests(rw, r, who, http.StatusOK, "Approved. You can return to the app: it continues on its own.", nil)
	case action == "report":
		s.renderCIBARequests(rw, r, who, http.StatusOK, "Denied and reported. The app gets no access, and the request is recorded as suspicious.", nil)
	default:
		s.renderCIBARequests(rw, r, who, http.StatusOK, "Denied. The app gets no access.", nil)
	}
}

// cibaEnrollPage is the enrolment fallback's verification URI: the user signs in, enters (or arrives
// with) the user code, and sees who asks for what before linking a device (RFC 8628 §3.3, §5.4).
func (s *Server) cibaEnrollPage(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r) // DEMO: a password; the seed asks for strong authentication here
	if who == nil {
		return
	}
	code := r.URL.Query().Get("user_code")
	data := map[string]interface{}{"Who": who}
	if code == "" {
		s.render(rw, http.StatusOK, "ciba_enroll_enter", data)
		return
	}
	e, err := s.cibaGrant.Enrollment.Lookup(r.Context(), code, caller(r, who))
	if err != nil {
		data["Error"] = cibaUserMessage(err)
		data["Code"] = typedCode(code)
		s.render(rw, statusOf(err), "ciba_enroll_enter", data)
		return
	}
	data["E"] = e
	data["ClientName"] = clientNameOf(e.Request)
	if !e.MayApprove(who.Subject) {
		data["Error"] = cibaUserMessage(ciba.ErrOtherAccount)
		data["Code"] = typedCode(code)
		s.render(rw, http.StatusForbidden, "ciba_enroll_enter", data)
		return
	}
	data["Facts"] = requestFacts{ClientName: clientNameOf(e.Request), ClientID: e.ClientID, Device: e.Device,
		CreatedAt: e.CreatedAt, Now: s.grantsNow(), Account: who.Subject, Where: describeProximity(e.Proximity, e.Device.RemoteAddr)}
	data["Scopes"] = describeScopes(e.Scopes)
	data["Email"] = demoUsers[who.Subject].Email
	data["FromLink"] = r.URL.Query().Get("entered") == ""
	s.render(rw, http.StatusOK, "ciba_enroll_confirm", data)
}

// cibaEnrollDecide links the signed-in user's e-mail as their device and approves, or denies.
func (s *Server) cibaEnrollDecide(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.render(rw, http.StatusForbidden, "ciba_enroll_enter", map[string]interface{}{"Who": who, "Code": typedCode(r.PostFormValue("user_code")),
			"Error": pageError{What: "The form expired, so nothing was changed.", Next: "Check the code below and press Continue."}})
	})
	if !ok {
		return
	}
	code, approve := r.PostFormValue("user_code"), r.PostFormValue("action") == "approve"
	var (
		e   *ciba.Enrollment
		err error
	)
	if approve {
		e, err = s.cibaGrant.Enrollment.Approve(r.Context(), code, caller(r, who),
			pending.Decision{Subject: who.Subject, Session: s.newSession(who.Subject, who.AuthTime)})
	} else {
		e, err = s.cibaGrant.Enrollment.Deny(r.Context(), code, caller(r, who), who.Subject)
	}
	if err != nil {
		s.render(rw, statusOf(err), "ciba_enroll_enter", map[string]interface{}{"Who": who, "Error": cibaUserMessage(err), "Code": typedCode(code)})
		return
	}
	s.render(rw, http.StatusOK, "ciba_enroll_done", map[string]interface{}{"Who": who, "Approved": approve, "ClientName": clientNameOf(e.Request)})
}

// demoAccountName names a demo account on the link page: "Alice Liddell (alice@example.com)".
func demoAccountName(_ context.Context, subject string) string {
	if u, ok := demoUsers[subject]; ok {
		return u.Name + " (" + u.Email + ")"
	}
	return subject
}

func clientNameOf(r ciba.Request) string {
	if r.ClientName != "" {
		return r.ClientName
	}
	return r.ClientID
}

// cibaUserMessage says what went wrong with a typed enrolment code, and what to do.
func cibaUserMessage(err error) pageError {
	if m, ok := policyMessage(err); ok {
		return m
	}
	switch {
	case errors.Is(err, pending.ErrTooManyAttempts):
		return pageError{What: "Too many wrong codes were entered, so codes are not being checked for now.", Next: "Wait 15 minutes, then enter the code again."}
	case errors.Is(err, pending.ErrInvalidUserCode), errors.Is(err, ciba.ErrRequestNotFound):
		return pageError{What: "That code does not match any app waiting for you.", Next: "Check it against the code the app shows. If the app shows a new code, the old one expired: use the new one."}
	}
	return pageError{What: "Something went wrong on our side, and nothing was changed.", Next: "Try again in a moment."}
}

// adminCIBADecide approves or denies a CIBA request by its auth_req_id (form auth_req_id, optional
// subject, which must then be the user the request is for). The admin API holds the auth_req_id, not
// the request's reference, so it finds the request by the handle's signature, as the token endpoint
// does. A fallback request has no user yet: it is decided at the enrolment page.
func (s *Server) adminCIBADecide(approve bool) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PostFormValue("auth_req_id")
		if id == "" {
			writeRFCError(rw, fosite.ErrInvalidRequest.WithHint("The 'auth_req_id' parameter is missing."))
			return
		}
		p := s.cibaGrant
		sig, err := pending.NewCodes(s.fosite).HandleSignature(ctx, id)
		if err != nil {
			writeRFCError(rw, err)
			return
		}
		g, err := s.store.GetPendingGrant(ctx, pending.KindCIBA, sig, nil)
		if errors.Is(err, pending.ErrNotFound) {
			writeRFCError(rw, fosite.ErrInvalidGrant.WithHint("The auth_req_id is unknown."))
			return
		} else if err != nil {
			writeRFCError(rw, fosite.ErrServerError.WithWrap(err))
			return
		}
		ref := g.Request.GetID() // a request's reference is its request ID
		subject := r.PostFormValue("subject")
		if subject == "" {
			subject = g.Subject
		}
		if subject == "" {
			writeRFCError(rw, fosite.ErrInvalidRequest.WithHint("This request waits for the user to link a device at the enrolment page; it has no user yet."))
			return
		}
		if approve {
			err = p.Decider.Approve(ctx, ref, pending.Decision{Subject: subject, Actor: "admin", Session: s.newSession(subject, time.Now())})
		} else {
			err = p.Decider.Deny(ctx, ref, subject)
		}
		if errors.Is(err, ciba.ErrRequestNotFound) {
			writeRFCError(rw, fosite.ErrInvalidGrant.WithHint("The request is not pending for that subject: already decided, expired, or another user's."))
			return
		} else if err != nil {
			writeRFCError(rw, err)
			return
		}
		status := "denied"
		if approve {
			status = "approved"
		}
		writeJSON(rw, http.StatusOK, map[string]interface{}{"status": status, "client_id": g.ClientID(), "subject": subject, "request_id": g.Request.GetID()})
	}
}

// outboxDeliverer routes outbox messages: webhooks (CIBA ping and push) over HTTP, and messages for people
// (device-grant alerts) through the server's sender.
func (s *Server) outboxDeliverer() outbox.Deliverer {
	hook := outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: s.opts.Dev, Now: s.opts.Now}) // DEMO: loopback http in dev mode
	return outbox.Router{ByScheme: map[string]outbox.Deliverer{
		"http": hook, "https": hook,
		outbox.NotifyScheme: outbox.Notify{Sender: s.sender},
	}}
}

// metadataClient is a fosite.DefaultClient with registration metadata, which the stores keep and the
// grants read through GetMetadata.
type metadataClient struct {
	*fosite.DefaultClient
	metadata map[string]any
}

// GetMetadata returns the client's registration metadata.
func (c *metadataClient) GetMetadata() map[string]any { return c.metadata }
