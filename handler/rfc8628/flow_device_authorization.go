package rfc8628

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// DeviceRequest is a validated device authorization request (RFC 8628 §3.1).
type DeviceRequest struct {
	fosite.Request
	// LoginHint is the account identifier the device sent, if any (a staffed kiosk looks requests up by it).
	LoginHint string
	// Device is what the server saw of the device.
	Device pending.DeviceInfo
	// Serial is the device_serial the device sent, if any: its user code is then the one printed in its
	// box (see PrintedUserCode).
	Serial string
}

// DeviceResponse is the device authorization response (RFC 8628 §3.2).
type DeviceResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval,omitempty"`
}

// DeviceAuthorizationEndpoint serves the device authorization endpoint (RFC 8628 §3.1–3.2). Mount it
// (it is an http.Handler) at the URL published as device_authorization_endpoint, or call its three
// steps from your own handler, as with fosite's endpoints. Get one from New (Grant.Authorization).
type DeviceAuthorizationEndpoint struct {
	provider     *fosite.Fosite
	config       fosite.Configurator
	lifecycle    *pending.Lifecycle
	deactivation pending.IndexStorage
	options      *Options
}

// ServeHTTP runs the endpoint: NewDeviceRequest, NewDeviceResponse, then WriteDeviceResponse or the
// RFC 6749 §5.2 error.
func (e *DeviceAuthorizationEndpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := e.NewDeviceRequest(ctx, r)
	if err != nil {
		e.WriteError(ctx, rw, r, err)
		return
	}
	resp, err := e.NewDeviceResponse(ctx, req)
	if err != nil {
		e.WriteError(ctx, rw, r, err)
		return
	}
	WriteDeviceResponse(rw, resp)
}

// WriteError writes an RFC 6749 §5.2 error response as fosite's token endpoint does, with
// WWW-Authenticate when a client that tried HTTP Basic is refused with 401, and logs it.
func (e *DeviceAuthorizationEndpoint) WriteError(ctx context.Context, rw http.ResponseWriter, r *http.Request, err error) {
	rfc6749.SetErrorHeaders(rw, r, err)
	rfc6749.LogRefused(ctx, e.options.Logger, "device authorization request refused", err)
	e.provider.WriteAccessError(ctx, rw, nil, rfc6749.Sanitize(err))
}

// NewDeviceRequest validates a device authorization request (RFC 8628 §3.1): the client authenticates
// as at the token endpoint (a public client sends only client_id), holds the device_code grant, and may
// ask for the requested scopes and audience.
func (e *DeviceAuthorizationEndpoint) NewDeviceRequest(ctx context.Context, r *http.Request) (*DeviceRequest, error) {
	form, err := rfc6749.ParseForm(r)
	if err != nil {
		return nil, err
	}
	client, err := rfc6749.AuthenticateClient(ctx, e.provider, r, form)
	if err != nil {
		return nil, err
	}
	if !client.GetGrantTypes().Has(string(GrantType)) {
		return nil, fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", GrantType)
	}

	req := &DeviceRequest{Request: *fosite.NewRequest()}
	req.Client = client
	req.Form = rfc6749.WithoutCredentials(form)
	req.RequestedScope = fosite.RemoveEmpty(strings.Split(form.Get("scope"), " "))
	req.RequestedAudience = fosite.GetAudiences(form)
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
	req.LoginHint = form.Get("login_hint")
	req.Device = pending.DeviceInfoFromRequest(r)
	if serial, ok := form["device_serial"]; ok {
		if err := e.checkSerial(client, serial[0]); err != nil {
			return nil, err
		}
		req.Serial = serial[0]
	}
	return req, nil
}

// NewDeviceResponse issues the device code and user code for a validated request and stores the pending
// grant (RFC 8628 §3.2), when the grant's policy admits it (Options.Policy: rate limits, trusted
// networks and devices; a refusal is pending.ErrTooManyRequests, ErrUntrustedNetwork or
// ErrUntrustedClient).
func (e *DeviceAuthorizationEndpoint) NewDeviceResponse(ctx context.Context, req *DeviceRequest) (*DeviceResponse, error) {
	if err := e.lifecycle.Admit(ctx, pending.Initiation{Client: req.GetClient(), Address: req.Device.RemoteAddr}); err != nil {
		return nil, err
	}
	now := clock.Now(e.options.Now)
	req.RequestedAt = now
	lifespan, _ := e.options.lifespans(req.GetClient())
	lifespan = e.lifecycle.CapLifespan(req.GetClient(), lifespan)
	stored := req.Request                                     // a copy: what is stored does not change with req
	hint, extra, err := e.storedLoginHint(ctx, req.LoginHint) // the account, for the staffed kiosk
	if err != nil {
		return nil, err
	}
	g := &pending.Grant{
		Request:   &stored,
		CreatedAt: now,
		ExpiresAt: now.Add(lifespan),
		Interval:  e.options.PollingInterval,
		LoginHint: hint,
		Device:    req.Device,
	}
	withExtra(g, extra)
	opt := pending.StartOptions{UserCode: true}
	if req.Serial != "" {
		withExtra(g, map[string]string{ExtraDeviceSerial: req.Serial})
		format, key, clientID := e.lifecycle.Format(), e.options.PrintedCodeKeys[req.GetClient().GetID()], req.GetClient().GetID()
		opt.PresetUserCode = func() (string, error) { return PrintedUserCode(key, format, clientID, req.Serial) }
		// The printed code is taken, normally by this device's own earlier request (it restarted):
		// the new request replaces it.
		opt.OnCollision = func(ctx context.Context, userSig string) error { return e.supersede(ctx, userSig, req, now) }
	}
	started, err := e.lifecycle.Start(ctx, g, opt)
	if err != nil {
		return nil, err
	}
	display := e.lifecycle.Format().Display(started.UserCode)
	verification := e.options.VerificationURI
	return &DeviceResponse{
		DeviceCode:              started.Handle,
		UserCode:                display,
		VerificationURI:         verification,
		VerificationURIComplete: pending.CompleteVerificationURI(verification, display),
		ExpiresIn:               int64(lifespan / time.Second),
		Interval:                int64(e.options.PollingInterval / time.Second),
	}, nil
}

// ExtraDeviceSerial is the pending.Grant Extra key of the device serial of a printed-code request.
const ExtraDeviceSerial = "device_serial"

// checkSerial accepts device_serial only from a confidential client that has a printed-code key: the
// serial selects a long-lived code, so a device must prove it is the manufacturer's client to use one.
func (e *DeviceAuthorizationEndpoint) checkSerial(client fosite.Client, serial string) error {
	if err := ValidateSerial(serial); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The 'device_serial' parameter must be 1 to 64 characters from A-Z a-z 0-9 - _ .")
	}
	if e.options.PrintedCodeKeys[client.GetID()] == nil {
		return fosite.ErrInvalidRequest.WithHint("The client has no pre-printed user codes: do not send 'device_serial'.")
	}
	if client.IsPublic() {
		return fosite.ErrInvalidClient.WithHint("Only an authenticated client may send 'device_serial'.")
	}
	return nil
}

// supersede ends the live grant holding a printed user code when it is the same device's (same client
// and serial), so that a new request can take the code. A code held by anyone else is an error.
func (e *DeviceAuthorizationEndpoint) supersede(ctx context.Context, userSig string, req *DeviceRequest, now time.Time) error {
	old, err := e.lifecycle.Storage.GetPendingGrantByUserCode(ctx, pending.KindDeviceCode, userSig, now, nil)
	if errors.Is(err, pending.ErrNotFound) {
		return nil // gone meanwhile: try again
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	if e.deactivation == nil || old.ClientID() != req.GetClient().GetID() || old.Extra[ExtraDeviceSerial] != req.Serial {
		return fosite.ErrTemporarilyUnavailable.WithHint("The device's printed user code is in use by another request.")
	}
	if err := e.deactivation.ExpirePendingGrant(ctx, pending.KindDeviceCode, old.HandleSignature, now); err != nil && !errors.Is(err, pending.ErrNotFound) {
		return rfc6749.ServerError(err)
	}
	return nil
}

// WriteDeviceResponse writes the device authorization response: 200, JSON, not cacheable (RFC 8628 §3.2).
func WriteDeviceResponse(rw http.ResponseWriter, resp *DeviceResponse) {
	rfc6749.WriteJSON(rw, http.StatusOK, resp)
}
