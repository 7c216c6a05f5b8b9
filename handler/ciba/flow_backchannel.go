package ciba

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// AuthenticationRequest is a validated backchannel authentication request (CIBA Core §7.1, §7.2).
type AuthenticationRequest struct {
	fosite.Request
	// Metadata is the client's CIBA registration metadata.
	Metadata Metadata
	// Hint is the hint the client sent; Hint.Kind is empty when it sent none (enrolment fallback only).
	Hint Hint
	// User is the user the hint names; nil when the request falls back to device enrolment.
	User *User
	// HintedSubject is the account the hint named when the request falls back to enrolment because that
	// account has no authentication device: only that account may approve it. Empty when the hint named
	// nobody known.
	HintedSubject string
	// Fallback is true when the request gets the enrolment response.
	Fallback bool
	// BindingMessage, ACRValues and RequestedExpiry are the client's parameters (RequestedExpiry 0:
	// none).
	BindingMessage  string
	ACRValues       []string
	RequestedExpiry time.Duration
	// NotificationToken is the client_notification_token (ping and push). A secret: never log it.
	NotificationToken string
	// Device is what the server saw of the client's request.
	Device pending.DeviceInfo
	// DPoPJKT is the thumbprint of the key the request's DPoP proof was made with (see dpop.go); the
	// request's tokens are bound to it. Empty without a proof.
	DPoPJKT string
}

// AuthenticationResponse is the successful authentication request acknowledgement (CIBA Core §7.3),
// plus, for the enrolment fallback, the RFC 8628 §3.2 members that send the user to enrol a device.
type AuthenticationResponse struct {
	AuthReqID string `json:"auth_req_id"`
	ExpiresIn int64  `json:"expires_in"`
	Interval  int64  `json:"interval,omitempty"`

	UserCode                string `json:"user_code,omitempty"`
	VerificationURI         string `json:"verification_uri,omitempty"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
}

// JTIStorage remembers the jti of signed requests until they expire, so that each is used once (CIBA
// Core §7.1.1, RFC 7519 §4.1.7). fosite's ClientManager has these methods (the stores of this module
// implement them); request jtis are kept apart from client assertions by a prefix.
type JTIStorage interface {
	ClientAssertionJWTValid(ctx context.Context, jti string) error
	SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error
}

// BackchannelEndpoint serves the backchannel authentication endpoint (CIBA Core §7). Mount it (it is an
// http.Handler) at the URL published as backchannel_authentication_endpoint, or call its steps from
// your own handler: NewRequest, NewResponse, WriteResponse or WriteError. Get one from New
// (Grant.Backchannel).
type BackchannelEndpoint struct {
	provider  *fosite.Fosite
	config    fosite.Configurator
	lifecycle *pending.Lifecycle
	sealer    *Sealer
	options   *Options
}

// ServeHTTP runs the endpoint: NewRequest, NewResponse, then WriteResponse or WriteError.
func (e *BackchannelEndpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := e.NewRequest(ctx, r)
	if err != nil {
		e.fail(ctx, rw, r, err)
		return
	}
	resp, err := e.NewResponse(ctx, req)
	if err != nil {
		e.fail(ctx, rw, r, err)
		return
	}
	WriteResponse(rw, resp)
}

func (e *BackchannelEndpoint) fail(ctx context.Context, rw http.ResponseWriter, r *http.Request, err error) {
	rfc6749.SetErrorHeaders(rw, r, err)
	dpop.SetNonceHeader(rw.Header(), err)
	rfc6749.LogRefused(ctx, e.options.Logger, "backchannel authentication request refused", err)
	WriteError(rw, err)
}

// NewRequest validates a backchannel authentication request in the order of CIBA Core §7.2: the client
// authenticates (confidential clients only, §7.1) and holds the CIBA grant; a signed request is verified
// (§7.1.1); the parameters are checked (scope with openid, exactly one hint, binding_message,
// requested_expiry, client_notification_token); the hint is resolved to a user; the user_code is
// checked (§7.1.2).
func (e *BackchannelEndpoint) NewRequest(ctx context.Context, r *http.Request) (*AuthenticationRequest, error) {
	form, err := rfc6749.ParseForm(r)
	if err != nil {
		return nil, err
	}
	client, err := rfc6749.AuthenticateClient(ctx, e.provider, r, form)
	if err != nil {
		if _, _, basic := r.BasicAuth(); !basic && form.Get("client_id") == "" && form.Get("client_assertion") == "" {
			// §13: invalid_client covers "no client authentication included".
			return nil, fosite.ErrInvalidClient.WithHint("The client did not authenticate.").WithWrap(err)
		}
		return nil, err
	}
	if client.IsPublic() {
		// §7.1: "The Client MUST authenticate to the Backchannel Authentication Endpoint using the
		// authentication method registered for its client_id": a public client cannot.
		return nil, fosite.ErrInvalidClient.WithHint("CIBA requires a confidential client that authenticates.")
	}
	if !client.GetGrantTypes().Has(string(GrantType)) {
		return nil, fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", GrantType)
	}
	md, err := MetadataOf(client)
	if err != nil {
		return nil, fosite.ErrUnauthorizedClient.WithHint("The client's CIBA registration is invalid.").WithWrap(err).WithDebug(err.Error())
	}
	if err := e.checkRegistration(md); err != nil {
		return nil, err
	}

	params, err := e.requestParameters(ctx, client, md, form)
	if err != nil {
		return nil, err
	}
	req, err := e.validate(ctx, r, client, md, form, params)
	if err != nil {
		return nil, err
	}
	if req.DPoPJKT, err = e.proofKey(ctx, r, client, md); err != nil {
		return nil, err
	}
	return req, nil
}

// checkRegistration refuses clients whose registration cannot work (CIBA Core §4).
func (e *BackchannelEndpoint) checkRegistration(md Metadata) error {
	switch md.TokenDeliveryMode {
	case ModePoll:
		return nil
	case ModePing, ModePush:
		if e.options.Outbox == nil {
			return fosite.ErrUnauthorizedClient.WithHintf("This server does not support the '%s' token delivery mode.", md.TokenDeliveryMode)
		}
		if err := CheckNotificationEndpoint(md.ClientNotificationEndpoint, e.options.AllowLoopbackHTTP); err != nil {
			return fosite.ErrUnauthorizedClient.WithHint("The client's backchannel_client_notification_endpoint is not usable.").WithDebug(err.Error())
		}
		return nil
	case "":
		return fosite.ErrUnauthorizedClient.WithHint("The client has no backchannel_token_delivery_mode.")
	default:
		return fosite.ErrUnauthorizedClient.WithHintf("The client's backchannel_token_delivery_mode '%s' is not supported.", md.TokenDeliveryMode)
	}
}

// CheckNotificationEndpoint checks a backchannel_client_notification_endpoint: an absolute https URL
// without fragment or user info (CIBA Core §4), or, when allowLoopbackHTTP, an http URL on a loopback
// address. The outbox applies its own, stricter checks when it delivers.
func CheckNotificationEndpoint(endpoint string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return errors.New("ciba: the notification endpoint must be an absolute URL without user info or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowLoopbackHTTP {
			host := u.Hostname()
			if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
				return nil
			}
		}
	}
	return errors.New("ciba: the notification endpoint must use https")
}

// requestParameters returns the request's parameters: the form's, or, for a signed request, the
// request object's (CIBA Core §7.1.1), as strings (requested_expiry may be a JSON number).
func (e *BackchannelEndpoint) requestParameters(ctx context.Context, client fosite.Client, md Metadata, form url.Values) (map[string]interface{}, error) {
	raw := form.Get("request")
	if raw == "" {
		if md.RequestSigningAlg != "" {
			return nil, fosite.ErrInvalidRequest.WithHint("The client registered a signing algorithm: its requests must be signed.")
		}
		params := map[string]interface{}{}
		for k, v := range form {
			params[k] = v[0]
		}
		return params, nil
	}
	for k := range form {
		if !authParams[k] {
			// §7.1.1: "Authentication request parameters MUST NOT be present outside of the JWT".
			return nil, fosite.ErrInvalidRequest.WithHintf("The parameter '%s' must be inside the signed request.", k)
		}
	}
	algs := e.options.RequestSigningAlgs
	jws, alg, err := parseSignedRequest(raw, algs, md.RequestSigningAlg)
	if err != nil {
		return nil, err
	}
	payload, err := verifyWithClientKeys(ctx, e.config.GetJWKSFetcherStrategy(ctx), client, jws, alg)
	if err != nil {
		return nil, err
	}
	now := clock.Now(e.options.Now)
	claims, err := requestObjectClaims(payload, e.config.GetIDTokenIssuer(ctx), client.GetID(), now)
	if err != nil {
		return nil, err
	}
	{
		jtis := e.provider.Store
		jti := "ciba-request|" + client.GetID() + "|" + claims["jti"].(string)
		if err := jtis.ClientAssertionJWTValid(ctx, jti); errors.Is(err, fosite.ErrJTIKnown) {
			return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'jti' was already used.")
		} else if err != nil {
			return nil, rfc6749.ServerError(err)
		}
		exp, _ := numericDate(claims["exp"])
		if err := jtis.SetClientAssertionJWT(ctx, jti, exp.Add(requestObjectLeeway)); errors.Is(err, fosite.ErrJTIKnown) {
			return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'jti' was already used.")
		} else if err != nil {
			return nil, rfc6749.ServerError(err)
		}
	}
	params := map[string]interface{}{}
	for name, v := range claims {
		if s, ok := v.(string); ok && !rfc6749.IsText(s) {
			return nil, fosite.ErrInvalidRequest.WithHintf("The request object's claim '%s' is not valid UTF-8 text.", name)
		}
	}
	for _, name := range requestObjectParams {
		v, present := claims[name]
		if !present || v == nil {
			continue
		}
		if name == "requested_expiry" {
			params[name] = v
			continue
		}
		s, _, err := stringClaim(claims, name)
		if err != nil {
			return nil, err
		}
		if s != "" {
			params[name] = s
		}
	}
	return params, nil
}

func param(params map[string]interface{}, name string) string {
	s, _ := params[name].(string)
	return s
}

func (e *BackchannelEndpoint) validate(ctx context.Context, r *http.Request, client fosite.Client, md Metadata, form url.Values, params map[string]interface{}) (*AuthenticationRequest, error) {
	req := &AuthenticationRequest{Request: *fosite.NewRequest(), Metadata: md}
	req.Client = client
	req.RequestedScope = fosite.RemoveEmpty(strings.Split(param(params, "scope"), " "))
	req.RequestedAudience = fosite.RemoveEmpty(strings.Split(param(params, "audience"), " "))
	req.Device = pending.DeviceInfoFromRequest(r)

	// §7.1: scope REQUIRED, and it MUST contain openid.
	if !req.RequestedScope.Has("openid") {
		return nil, fosite.ErrInvalidScope.WithHint("The scope must contain 'openid'.")
	}
	for _, scope := range req.RequestedScope {
		if !e.config.GetScopeStrategy(ctx)(client.GetScopes(), scope) {
			return nil, fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope '%s'.", scope)
		}
	}
	if err := e.lifecycle.CheckScopes(ctx, client, req.RequestedScope); err != nil {
		return nil, err
	}
	if err := e.config.GetAudienceStrategy(ctx)(client.GetAudience(), req.RequestedAudience); err != nil {
		return nil, err
	}

	// §7.1: exactly one hint; §7.2: more than one is invalid_request.
	var hints []Hint
	for _, k := range []HintKind{HintLoginHintToken, HintIDTokenHint, HintLoginHint} {
		if v := param(params, string(k)); v != "" {
			hints = append(hints, Hint{Kind: k, Value: v, ClientID: client.GetID()})
		}
	}
	switch {
	case len(hints) > 1:
		return nil, fosite.ErrInvalidRequest.WithHint("Exactly one of login_hint_token, id_token_hint and login_hint must be sent; several were.")
	case len(hints) == 0 && !md.EnrollmentFallback:
		return nil, fosite.ErrInvalidRequest.WithHint("Exactly one of login_hint_token, id_token_hint and login_hint must be sent; none was.")
	case len(hints) == 1:
		req.Hint = hints[0]
	}

	if msg := param(params, "binding_message"); msg != "" {
		if err := checkBindingMessage(msg, e.options.BindingMessageMaxLength); err != nil {
			return nil, err
		}
		req.BindingMessage = msg
	}
	if v, ok := params["requested_expiry"]; ok && v != "" {
		n, err := parseRequestedExpiry(v)
		if err != nil {
			return nil, err
		}
		req.RequestedExpiry = time.Duration(n) * time.Second
	}
	req.ACRValues = fosite.RemoveEmpty(strings.Split(param(params, "acr_values"), " "))
	if md.TokenDeliveryMode == ModePing || md.TokenDeliveryMode == ModePush {
		tok := param(params, "client_notification_token")
		if tok == "" {
			return nil, fosite.ErrInvalidRequest.WithHint("The client_notification_token is required in ping and push modes.")
		}
		if !validNotificationToken(tok) {
			return nil, fosite.ErrInvalidRequest.WithHintf("The client_notification_token must be a bearer token (RFC 6750 section 2.1) of at most %d characters.", MaxClientNotificationToken)
		}
		req.NotificationToken = tok
	}

	// The form kept with the request: the effective parameters minus secrets.
	req.Form = url.Values{}
	for k, v := range params {
		if s, ok := v.(string); ok {
			switch k {
			case "client_secret", "client_assertion", "client_assertion_type", "client_notification_token", "request", "user_code", "login_hint_token", "id_token_hint":
				continue
			}
			req.Form.Set(k, s)
		}
	}

	// §7.2: process the hint.
	if err := e.resolve(ctx, req); err != nil {
		return nil, err
	}

	// §7.1.2: the user code, for clients that registered backchannel_user_code_parameter.
	if md.UserCodeParameter && !req.Fallback {
		if e.options.UserCodes == nil {
			return nil, fosite.ErrUnauthorizedClient.WithHint("This server does not support backchannel_user_code_parameter.")
		}
		code := param(params, "user_code")
		if code == "" {
			return nil, ErrMissingUserCode
		}
		if err := e.options.UserCodes.CheckUserCode(ctx, req.User.Subject, code); errors.Is(err, ErrInvalidUserCode) {
			return nil, err
		} else if err != nil {
			return nil, rfc6749.ServerError(err)
		}
	}
	return req, nil
}

// resolve turns the hint into a user (CIBA Core §7.2), or decides on the enrolment fallback. A client
// that opted in gets the same fallback for "no hint", "unknown user" and "no reachable device", so its
// answer does not tell which.
func (e *BackchannelEndpoint) resolve(ctx context.Context, req *AuthenticationRequest) error {
	fallback := req.Metadata.EnrollmentFallback
	if req.Hint.Kind == "" {
		req.Fallback = true
		return nil
	}
	if req.Hint.Kind == HintIDTokenHint {
		if e.options.IDTokenHints == nil {
			return ErrUnknownUserID.WithHint("This server does not accept id_token_hint.")
		}
		sub, err := e.options.IDTokenHints.VerifyIDTokenHint(ctx, req.Hint.Value, req.Hint.ClientID)
		if err != nil {
			if errors.Is(err, ErrUnknownUserID) {
				return err
			}
			return rfc6749.ServerError(err)
		}
		req.Hint.Subject = sub
	}
	user, err := e.options.Resolver.ResolveHint(ctx, req.Hint)
	switch {
	case errors.Is(err, ErrUnknownUserID) && fallback:
		req.Fallback = true
		return nil
	case errors.Is(err, ErrUnknownUserID):
		// One answer for "no such user" and "no reachable device" (below): the client must not learn
		// which accounts exist. The difference goes to the debug field, which only the server sees.
		return ErrUnknownUserID.WithDebug(err.Error())
	case errors.Is(err, ErrExpiredLoginHintToken):
		return err
	case err != nil:
		return rfc6749.ServerError(err)
	case user == nil || user.Subject == "":
		return fosite.ErrServerError.WithDebug("The hint resolver returned no user and no error.")
	case len(user.Devices) == 0 && fallback:
		req.Fallback = true
		req.HintedSubject = user.Subject
		return nil
	case len(user.Devices) == 0:
		return ErrUnknownUserID.WithDebug("The user has no reachable authentication device.")
	}
	req.User = user
	return nil
}

// Extra keys of the pending grant (non-secret).
const (
	extraMode     = "ciba_mode"
	extraFallback = "ciba_fallback"
	// extraHintedSubject is the account a fallback request's hint named (AuthenticationRequest.HintedSubject).
	extraHintedSubject = "ciba_hinted_subject"
	// extraRef is the reference of requests stored before references became request IDs: their
	// sealed values are bound to it.
	extraRef = "ciba_ref"
)

// NewResponse stores the request and answers it (CIBA Core §7.3): a new auth_req_id, the lifetime
// (requested_expiry when given, within the configured maximum), and the polling interval for poll and
// ping clients. A request for a known user is then passed to the AuthenticationDevice; a fallback
// request gets a user code and the verification URI instead. First the grant's policy must admit it
// (Options.Policy: requests per user, client and address; trusted networks and devices): a refusal is
// pending.ErrTooManyRequests, ErrUntrustedNetwork or ErrUntrustedClient, and nothing reaches the user.
func (e *BackchannelEndpoint) NewResponse(ctx context.Context, req *AuthenticationRequest) (*AuthenticationResponse, error) {
	in := pending.Initiation{Client: req.GetClient(), Address: req.Device.RemoteAddr, Subject: req.HintedSubject}
	if req.User != nil {
		in.Subject = req.User.Subject
	}
	if err := e.lifecycle.Admit(ctx, in); err != nil {
		return nil, err
	}
	now := clock.Now(e.options.Now)
	req.RequestedAt = now
	lifespan := e.options.RequestLifespan
	if req.RequestedExpiry > 0 {
		lifespan = min(req.RequestedExpiry, e.options.MaxRequestLifespan)
	}
	lifespan = e.lifecycle.CapLifespan(req.GetClient(), lifespan)
	var interval time.Duration
	if req.Metadata.TokenDeliveryMode != ModePush {
		interval = e.options.PollingInterval
	}
	verification := e.options.VerificationURI
	if req.Fallback && verification == "" {
		return nil, fosite.ErrServerError.WithDebug("No CIBA verification URI is configured for the enrolment fallback.")
	}

	stored := req.Request
	g := &pending.Grant{
		Request:   &stored,
		CreatedAt: now,
		ExpiresAt: now.Add(lifespan),
		Interval:  interval,
		Device:    req.Device,
		Extra:     map[string]string{extraMode: string(req.Metadata.TokenDeliveryMode)},
	}
	if req.Hint.Kind == HintLoginHint {
		g.LoginHint = req.Hint.Value
	}
	if req.User != nil {
		g.Subject = req.User.Subject
	}
	if req.Fallback {
		g.Extra[extraFallback] = "true"
		if req.HintedSubject != "" {
			g.Extra[extraHintedSubject] = req.HintedSubject
		}
	}
	if req.DPoPJKT != "" {
		g.Extra[extraDPoPJKT] = req.DPoPJKT
	}
	opt := pending.StartOptions{UserCode: req.Fallback}
	if req.NotificationToken != "" {
		opt.BeforeCreate = func(g *pending.Grant, handle string) (err error) {
			cb := &pending.Callback{Endpoint: req.Metadata.ClientNotificationEndpoint, OnExpiry: req.Metadata.TokenDeliveryMode == ModePush}
			ref := sealRef(g)
			if cb.SealedToken, err = e.sealer.Seal(ctx, ref+sealToken, req.NotificationToken); err != nil {
				return err
			}
			if cb.SealedHandle, err = e.sealer.Seal(ctx, ref+sealAuthReqID, handle); err != nil {
				return err
			}
			g.Callback = cb
			return nil
		}
	}
	started, err := e.lifecycle.Start(ctx, g, opt)
	if err != nil {
		return nil, err
	}

	resp := &AuthenticationResponse{AuthReqID: started.Handle, ExpiresIn: int64(lifespan / time.Second), Interval: int64(interval / time.Second)}
	if req.Fallback {
		display := e.lifecycle.Format().Display(started.UserCode)
		resp.UserCode = display
		resp.VerificationURI = verification
		resp.VerificationURIComplete = pending.CompleteVerificationURI(verification, display)
		return resp, nil
	}
	n := Notification{Request: requestOf(g), Devices: req.User.Devices}
	if err := e.options.Devices.Notify(ctx, n); err != nil {
		return nil, rfc6749.ServerError(err)
	}
	return resp, nil
}

// sealRef is what a request's sealed values are bound to: its handle signature, or the reference of a
// request stored before references became request IDs.
func sealRef(g *pending.Grant) string {
	if ref := g.Extra[extraRef]; ref != "" {
		return ref
	}
	return g.HandleSignature
}

// requestOf describes a stored request for the authentication-device side.
func requestOf(g *pending.Grant) Request {
	r := Request{
		Ref:       g.Request.GetID(),
		Subject:   g.Subject,
		ClientID:  g.ClientID(),
		Mode:      DeliveryMode(g.Extra[extraMode]),
		RequestID: g.Request.GetID(),
		CreatedAt: g.CreatedAt,
		ExpiresAt: g.ExpiresAt,
	}
	if c := g.Request.GetClient(); c != nil {
		if md, err := MetadataOf(c); err == nil {
			r.ClientName = md.Name
		}
	}
	form := g.Request.GetRequestForm()
	r.BindingMessage = form.Get("binding_message")
	r.Scopes = append([]string{}, g.Request.GetRequestedScopes()...)
	r.ACRValues = fosite.RemoveEmpty(strings.Split(form.Get("acr_values"), " "))
	return r
}

// WriteResponse writes the acknowledgement: 200, JSON, not cacheable (CIBA Core §7.3).
func WriteResponse(rw http.ResponseWriter, resp *AuthenticationResponse) {
	rfc6749.WriteJSON(rw, http.StatusOK, resp)
}

// errorBody is the error response of CIBA Core §13: error, error_description, error_uri and nothing
// else.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// WriteError writes an authentication error response (CIBA Core §13): a JSON object with error and
// error_description only, and the status §13 gives its code (400, 401 invalid_client, 403 access_denied;
// 500 server_error, 429 temporarily_unavailable). Debug details are never sent.
func WriteError(rw http.ResponseWriter, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	status := rfc.CodeField
	switch rfc.ErrorField {
	case "invalid_client":
		status = http.StatusUnauthorized
	case "access_denied":
		status = http.StatusForbidden
	case "server_error":
		status = http.StatusInternalServerError
	case "temporarily_unavailable":
		if status != http.StatusTooManyRequests {
			status = http.StatusServiceUnavailable
		}
	default:
		status = http.StatusBadRequest
	}
	body := errorBody{Error: rfc.ErrorField, ErrorDescription: rfc6749.DescriptionChars(rfc.WithExposeDebug(false).GetDescription())}
	rfc6749.WriteJSON(rw, status, body)
}
