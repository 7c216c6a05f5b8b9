package hydragrants

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/hydra/v2/aead"
	"github.com/ory/hydra/v2/consent"
	"github.com/ory/hydra/v2/driver"
	"github.com/ory/hydra/v2/flow"
	"github.com/ory/hydra/v2/oauth2/flowctx"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// DeviceRequestParam is the query parameter of Hydra's authorization URL that marks a device approval
// (DeviceConsent); its value is the device request's ID, which is not a secret.
const DeviceRequestParam = "device_request"

// DeviceCookieName is the cookie that binds a device approval to the browser that started it.
const DeviceCookieName = "grants_device_approval"

// deviceRedirectURI stands in for the redirect URI a device flow does not have. Hydra lets a public
// client skip its consent screen only when the redirect URI is https or loopback; this one is neither,
// so a public device client is always asked for consent (RFC 8628 §5.4: the user must see what they
// approve).
var deviceRedirectURI = &url.URL{Scheme: "urn", Opaque: "ietf:params:oauth:grant-type:device_code"}

// DeviceOutcome is how a device approval through Hydra's login and consent ended.
type DeviceOutcome struct {
	// Authorization is the device request; nil when it could not be found (expired, decided, or the
	// approval was not this browser's).
	Authorization *rfc8628.Authorization
	// Approved is true when the request was approved for the user and the scopes Hydra's consent
	// granted; Denied when the user (or the login and consent app) rejected it, and it was denied.
	Approved, Denied bool
	// Err says why neither happened.
	Err error
}

// DeviceConsent lets people approve a device code (RFC 8628 §3.3) through Hydra's own login and consent
// flow, with the operator's login and consent app unchanged.
//
// The verification page checks the code the user typed and calls Start, which sends the browser into
// Hydra's login flow for the device's client and scopes, exactly as Hydra's authorization endpoint
// does for an authorization code: the login app gets a login_challenge, the consent app a
// consent_challenge naming the device's client and the scopes it asked for, and both accept or reject
// through Hydra's admin API as always. Hydra sends the browser back to its authorization URL with the
// verifier; Intercept, wrapped around Hydra's public handler, recognises these requests by
// DeviceRequestParam and finishes the flow with Hydra's consent strategy. When the consent is
// accepted, the device request is approved for the user Hydra authenticated (its subject identifier
// for the client, pairwise if the client asks for it) and the scopes and audience the consent granted
// (only those the device requested), with the consent's ID token and access token claims, and the
// tokens are tied to Hydra's consent session: revoking the consent in Hydra revokes them. When the
// login or the consent is rejected, the request is denied (the device gets access_denied). Done then
// shows the user the outcome.
//
// No token is issued to anybody during this flow, and no client is needed besides the device's own.
//
// The approval is bound to the browser that started it: Start sets a cookie (DeviceCookieName) holding
// the user code, the request and an expiry, sealed with Hydra's flow cipher (Hydra's system secret),
// and every later step requires it. A link into the flow forwarded to somebody else therefore leads
// nowhere: the verification page, where the user must type or confirm the code and sees the device's
// details, is the only way in (RFC 8628 §5.4).
type DeviceConsent struct {
	// Registry is the Hydra server's registry.
	Registry driver.Registry
	// Verifier is the device grant's verification API (compose.DeviceGrant's Verifier).
	Verifier *rfc8628.Verifier
	// Done shows the outcome to the user (the flow's last response). Required.
	Done func(w http.ResponseWriter, r *http.Request, o DeviceOutcome)
	// Caller says who is at the browser, for the guessing limits; nil means the request's remote
	// address.
	Caller func(r *http.Request) pending.Caller
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// deviceApproval is what the sealed cookie holds.
type deviceApproval struct {
	UserCode  string `json:"c"`
	RequestID string `json:"r"`
	ClientID  string `json:"cl"`
	Expires   int64  `json:"exp"`
}

// Start checks userCode (through the guessing limits: rfc8628.Verifier.Lookup) and sends the browser
// into Hydra's login flow for the request. It returns the lookup's error (rfc8628.ErrInvalidUserCode,
// pending.ErrTooManyAttempts, a server error) for the page to show, having written nothing; or nil once
// it has answered (normally a redirect to the login app).
func (d *DeviceConsent) Start(w http.ResponseWriter, r *http.Request, userCode string) error {
	ctx := r.Context()
	a, err := d.Verifier.Lookup(ctx, userCode, d.caller(r))
	if err != nil {
		return err
	}
	now := d.now()
	exp := now.Add(d.Registry.Config().ConsentRequestMaxAge(ctx))
	if a.ExpiresAt.Before(exp) {
		exp = a.ExpiresAt
	}
	v, err := d.seal(ctx, deviceApproval{UserCode: a.UserCode, RequestID: a.RequestID, ClientID: a.Client.GetID(), Expires: exp.Unix()})
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	http.SetCookie(w, &http.Cookie{
		Name: DeviceCookieName, Value: v, Path: "/", Expires: exp, HttpOnly: true,
		Secure: d.Registry.Config().IssuerURL(ctx).Scheme == "https", SameSite: http.SameSiteLaxMode,
	})
	// The flow starts as if the browser had asked Hydra's authorization URL for it.
	auth := d.Registry.Config().OAuth2AuthURL(ctx)
	start := r.Clone(ctx)
	start.Method = http.MethodGet
	start.URL = &url.URL{Path: auth.Path, RawQuery: url.Values{"client_id": {a.Client.GetID()}, DeviceRequestParam: {a.RequestID}}.Encode()}
	start.Form, start.PostForm = nil, nil
	d.continueFlow(w, start, a, deviceApproval{UserCode: a.UserCode, RequestID: a.RequestID, ClientID: a.Client.GetID()})
	return nil
}

// Intercept returns next with the device approvals taken out: a request for Hydra's authorization URL
// carrying DeviceRequestParam is one, and DeviceConsent serves it; every other request goes to next
// (Hydra's public handler).
func (d *DeviceConsent) Intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == d.Registry.Config().OAuth2AuthURL(r.Context()).Path && r.URL.Query().Has(DeviceRequestParam) {
			d.serve(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ErrNotThisBrowser is wrapped in the invalid_request (400) that answers a step of a device approval
// without the cookie Start set in the browser (or with a forged, foreign or expired one).
var ErrNotThisBrowser = errors.New("hydragrants: this device approval was not started in this browser, or it has expired")

var errNotThisBrowser = fosite.ErrInvalidRequest.WithHint("This device approval was not started in this browser, or it has expired; enter the code again.").WithWrap(ErrNotThisBrowser)

// serve continues a device approval Hydra sent back (with a login or consent verifier).
func (d *DeviceConsent) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if r.Method != http.MethodGet || len(q[DeviceRequestParam]) != 1 || len(q["client_id"]) != 1 {
		d.Done(w, r, DeviceOutcome{Err: fosite.ErrInvalidRequest.WithHint("A device approval is a single GET with one device_request and one client_id.")})
		return
	}
	c, err := r.Cookie(DeviceCookieName)
	if err != nil {
		d.Done(w, r, DeviceOutcome{Err: errNotThisBrowser})
		return
	}
	ap, err := d.open(ctx, c.Value)
	if err != nil || ap.RequestID != q.Get(DeviceRequestParam) || ap.ClientID != q.Get("client_id") {
		d.Done(w, r, DeviceOutcome{Err: errNotThisBrowser})
		return
	}
	a, err := d.Verifier.Lookup(ctx, ap.UserCode, d.caller(r))
	if err != nil || a.RequestID != ap.RequestID {
		d.clearCookie(w, r)
		if err == nil {
			err = errNotThisBrowser
		}
		d.Done(w, r, DeviceOutcome{Err: err})
		return
	}
	d.continueFlow(w, r, a, ap)
}

// continueFlow runs one step of Hydra's login and consent flow for a, and finishes the approval when
// Hydra returns the consent.
func (d *DeviceConsent) continueFlow(w http.ResponseWriter, r *http.Request, a *rfc8628.Authorization, ap deviceApproval) {
	ctx := r.Context()
	hc, ok := hydraClient(a.Client)
	if !ok {
		d.Done(w, r, DeviceOutcome{Authorization: a, Err: fosite.ErrServerError.WithDebugf("The client (%T) is not a Hydra client.", a.Client)})
		return
	}
	q := r.URL.Query()
	form := url.Values{"client_id": {hc.GetID()}, DeviceRequestParam: {a.RequestID}}
	for _, k := range []string{"login_verifier", "consent_verifier"} {
		if v := q.Get(k); v != "" {
			form.Set(k, v)
		}
	}
	ar := fosite.NewAuthorizeRequest()
	ar.ID = a.RequestID
	ar.RequestedAt = d.now().UTC()
	ar.Client = hc
	ar.RequestedScope = a.RequestedScopes
	ar.RequestedAudience = a.RequestedAudience
	ar.Form = form
	ar.RedirectURI = deviceRedirectURI

	accepted, _, err := d.Registry.ConsentStrategy().HandleOAuth2AuthorizationRequest(ctx, w, r, ar)
	if errors.Is(err, consent.ErrAbortOAuth2Request) {
		return // Hydra has redirected the browser to the login or the consent app.
	}
	if err != nil {
		if d.rejected(ctx, form) {
			_, derr := d.Verifier.Deny(ctx, ap.UserCode, d.caller(r), "", "")
			d.clearCookie(w, r)
			d.Done(w, r, DeviceOutcome{Authorization: a, Denied: derr == nil, Err: derr})
			return
		}
		d.Done(w, r, DeviceOutcome{Authorization: a, Err: err})
		return
	}
	d.clearCookie(w, r)
	if accepted.ConsentRequest == nil || accepted.ConsentRequest.Client == nil || accepted.ConsentRequest.Client.GetID() != hc.GetID() {
		d.Done(w, r, DeviceOutcome{Authorization: a, Err: fosite.ErrServerError.WithDebug("Hydra's consent names another client than the device request.")})
		return
	}
	cr := accepted.ConsentRequest
	id := Identity{
		Subject: cr.Subject, ForceSubjectIdentifier: cr.ForceSubjectIdentifier,
		AuthenticatedAt: time.Time(accepted.AuthenticatedAt), ACR: cr.ACR, AMR: cr.AMR,
		LoginSessionID: cr.LoginSessionID.String(), ConsentChallenge: accepted.ID,
	}
	if accepted.Session != nil {
		id.IDToken, id.AccessToken = accepted.Session.IDToken, accepted.Session.AccessToken
	}
	sess, subject, err := NewSession(ctx, d.Registry, hc, id)
	if err != nil {
		d.Done(w, r, DeviceOutcome{Authorization: a, Err: fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())})
		return
	}
	who := d.caller(r)
	who.Account = subject
	a, err = d.Verifier.Approve(ctx, ap.UserCode, who, pending.Decision{
		Subject: subject, Session: sess,
		// The consent app may grant less than the device asked for, never more.
		GrantedScopes:   intersect(accepted.GrantedScope, a.RequestedScopes),
		GrantedAudience: intersect(accepted.GrantedAudience, a.RequestedAudience),
	})
	d.Done(w, r, DeviceOutcome{Authorization: a, Approved: err == nil || errors.Is(err, rfc8628.ErrAlertFailed), Err: err})
}

// rejected reports whether the verifier Hydra sent back says the login or consent app rejected the
// request (as opposed to a broken, replayed or expired verifier).
func (d *DeviceConsent) rejected(ctx context.Context, form url.Values) bool {
	cipher := d.Registry.FlowCipher()
	if v := form.Get("consent_verifier"); v != "" {
		f, err := flowctx.Decode[flow.Flow](ctx, cipher, v, flowctx.AsConsentVerifier)
		return err == nil && f.State == flow.FlowStateConsentError
	}
	if v := form.Get("login_verifier"); v != "" {
		f, err := flowctx.Decode[flow.Flow](ctx, cipher, v, flowctx.AsLoginVerifier)
		return err == nil && f.State == flow.FlowStateLoginError
	}
	return false
}

// intersect returns the members of granted that requested has, in granted's order, never nil: an empty
// result grants nothing (a nil one would grant everything requested).
func intersect(granted []string, requested fosite.Arguments) []string {
	out := []string{}
	for _, g := range granted {
		if requested.Has(g) {
			out = append(out, g)
		}
	}
	return out
}

func (d *DeviceConsent) caller(r *http.Request) pending.Caller {
	if d.Caller != nil {
		return d.Caller(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return pending.Caller{Address: host}
}

func (d *DeviceConsent) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// cookieAAD binds a sealed cookie to its purpose.
var cookieAAD = []byte("fosite-contrib/grants hydra device approval v1")

func (d *DeviceConsent) seal(ctx context.Context, ap deviceApproval) (string, error) {
	return sealApproval(ctx, d.Registry.FlowCipher(), ap)
}

func (d *DeviceConsent) open(ctx context.Context, v string) (deviceApproval, error) {
	return openApproval(ctx, d.Registry.FlowCipher(), v, d.now())
}

// maxCookieBytes bounds a cookie value worth decrypting (a sealed approval is about 250 bytes).
const maxCookieBytes = 2048

// sealApproval seals ap with c (Hydra's flow cipher: XChaCha20-Poly1305 under Hydra's system secret),
// bound to its purpose.
func sealApproval(ctx context.Context, c aead.Cipher, ap deviceApproval) (string, error) {
	b, err := json.Marshal(ap)
	if err != nil {
		return "", err
	}
	return c.Encrypt(ctx, b, cookieAAD)
}

// openApproval unseals a cookie value. It is attacker input: anything that is not a complete approval
// sealed with c for this purpose and unexpired at now is errNotThisBrowser.
func openApproval(ctx context.Context, c aead.Cipher, v string, now time.Time) (deviceApproval, error) {
	var ap deviceApproval
	if v == "" || len(v) > maxCookieBytes {
		return ap, errNotThisBrowser
	}
	b, err := c.Decrypt(ctx, v, cookieAAD)
	if err != nil {
		return ap, errNotThisBrowser
	}
	if err := json.Unmarshal(b, &ap); err != nil || ap.UserCode == "" || ap.RequestID == "" || ap.ClientID == "" {
		return deviceApproval{}, errNotThisBrowser
	}
	if !now.Before(time.Unix(ap.Expires, 0)) {
		return deviceApproval{}, errNotThisBrowser
	}
	return ap, nil
}

func (d *DeviceConsent) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: DeviceCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: d.Registry.Config().IssuerURL(r.Context()).Scheme == "https", SameSite: http.SameSiteLaxMode,
	})
}
