package rfc8628

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/pending"
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
// steps from your own handler, as with fosite's endpoints.
type DeviceAuthorizationEndpoint struct {
	Clients rfc6749.ClientAuthenticator
	Errors  rfc6749.ErrorWriter
	Storage pending.Storage
	Codes   *pending.Codes
	Config  Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
}

// maxUserCodeAttempts bounds the retries on a user-code collision (RFC 8628 §3.2: codes are unique while
// valid). With 20^8 codes, three collisions in a row mean the code space is nearly full.
const maxUserCodeAttempts = 3

func (e *DeviceAuthorizationEndpoint) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// ServeHTTP runs the endpoint: NewDeviceRequest, NewDeviceResponse, then WriteDeviceResponse or the
// RFC 6749 §5.2 error.
func (e *DeviceAuthorizationEndpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := e.NewDeviceRequest(ctx, r)
	if err != nil {
		e.writeError(ctx, rw, r, err)
		return
	}
	resp, err := e.NewDeviceResponse(ctx, req)
	if err != nil {
		e.writeError(ctx, rw, r, err)
		return
	}
	WriteDeviceResponse(rw, resp)
}

func (e *DeviceAuthorizationEndpoint) writeError(ctx context.Context, rw http.ResponseWriter, r *http.Request, err error) {
	rfc6749.SetAuthenticateHeader(rw, r, err)
	rfc6749.LogRefused(ctx, e.Logger, "device authorization request refused", err)
	e.Errors.WriteAccessError(ctx, rw, nil, err)
}

// NewDeviceRequest validates a device authorization request (RFC 8628 §3.1): the client authenticates
// as at the token endpoint (a public client sends only client_id), holds the device_code grant, and may
// ask for the requested scopes and audience.
func (e *DeviceAuthorizationEndpoint) NewDeviceRequest(ctx context.Context, r *http.Request) (*DeviceRequest, error) {
	form, err := rfc6749.ParseForm(r)
	if err != nil {
		return nil, err
	}
	client, err := rfc6749.AuthenticateClient(ctx, e.Clients, r, form)
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
		if !e.Config.GetScopeStrategy(ctx)(client.GetScopes(), scope) {
			return nil, fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope '%s'.", scope)
		}
	}
	if err := e.Config.GetAudienceStrategy(ctx)(client.GetAudience(), req.RequestedAudience); err != nil {
		return nil, err
	}
	req.LoginHint = form.Get("login_hint")
	req.Device = DeviceInfoFromRequest(r)
	if serial, ok := form["device_serial"]; ok {
		if err := e.checkSerial(ctx, client, serial[0]); err != nil {
			return nil, err
		}
		req.Serial = serial[0]
	}
	return req, nil
}

// NewDeviceResponse issues the device code and user code for a validated request and stores the pending
// grant (RFC 8628 §3.2).
func (e *DeviceAuthorizationEndpoint) NewDeviceResponse(ctx context.Context, req *DeviceRequest) (*DeviceResponse, error) {
	now := e.now()
	req.RequestedAt = now
	format := e.Config.GetUserCodeFormat(ctx)
	lifespan, _ := lifespans(ctx, e.Config, req.GetClient())
	interval := e.Config.GetDevicePollingInterval(ctx)
	verification := e.Config.GetDeviceVerificationURI(ctx)
	if verification == "" {
		// verification_uri is REQUIRED in the response (RFC 8628 §3.2).
		return nil, fosite.ErrServerError.WithDebug("No device verification URI is configured.")
	}

	for attempt := 0; ; attempt++ {
		deviceCode, deviceSig, err := e.Codes.NewHandle(ctx)
		if err != nil {
			return nil, rfc6749.ServerError(err)
		}
		var userCode string
		if req.Serial != "" {
			userCode, err = PrintedUserCode(e.printedKey(ctx, req.GetClient()), format, req.GetClient().GetID(), req.Serial)
		} else {
			userCode, err = format.Generate(e.Codes.Rand)
		}
		if err != nil {
			return nil, rfc6749.ServerError(err)
		}
		userSig, err := e.Codes.UserCodeSignature(ctx, pending.KindDeviceCode, userCode)
		if err != nil {
			return nil, rfc6749.ServerError(err)
		}
		stored := req.Request // a copy: what is stored does not change with req
		g := &pending.Grant{
			Kind:              pending.KindDeviceCode,
			HandleSignature:   deviceSig,
			UserCodeSignature: userSig,
			Request:           &stored,
			State:             pending.StatePending,
			CreatedAt:         now,
			ExpiresAt:         now.Add(lifespan),
			Interval:          interval,
			LoginHint:         req.LoginHint,
			Device:            req.Device,
		}
		if req.Serial != "" {
			g.Extra = map[string]string{ExtraDeviceSerial: req.Serial}
		}
		err = e.Storage.CreatePendingGrant(ctx, g)
		if errors.Is(err, pending.ErrCollision) && req.Serial != "" && attempt+1 < maxUserCodeAttempts {
			// The printed code is taken, normally by this device's own earlier request (it restarted):
			// the new request replaces it.
			if err := e.supersede(ctx, userSig, req, now); err != nil {
				return nil, err
			}
			continue
		}
		if errors.Is(err, pending.ErrCollision) && attempt+1 < maxUserCodeAttempts {
			continue
		} else if err != nil {
			return nil, rfc6749.ServerError(err)
		}

		display := format.Display(userCode)
		return &DeviceResponse{
			DeviceCode:              deviceCode,
			UserCode:                display,
			VerificationURI:         verification,
			VerificationURIComplete: CompleteVerificationURI(verification, display),
			ExpiresIn:               int64(lifespan / time.Second),
			Interval:                int64(interval / time.Second),
		}, nil
	}
}

// ExtraDeviceSerial is the pending.Grant Extra key of the device serial of a printed-code request.
const ExtraDeviceSerial = "device_serial"

// checkSerial accepts device_serial only from a confidential client that has a printed-code key: the
// serial selects a long-lived code, so a device must prove it is the manufacturer's client to use one.
func (e *DeviceAuthorizationEndpoint) checkSerial(ctx context.Context, client fosite.Client, serial string) error {
	if err := ValidateSerial(serial); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The 'device_serial' parameter must be 1 to 64 characters from A-Z a-z 0-9 - _ .")
	}
	if e.printedKey(ctx, client) == nil {
		return fosite.ErrInvalidRequest.WithHint("The client has no pre-printed user codes: do not send 'device_serial'.")
	}
	if client.IsPublic() {
		return fosite.ErrInvalidClient.WithHint("Only an authenticated client may send 'device_serial'.")
	}
	return nil
}

func (e *DeviceAuthorizationEndpoint) printedKey(ctx context.Context, client fosite.Client) []byte {
	if p, ok := e.Config.(PrintedUserCodeKeyProvider); ok {
		return p.GetPrintedUserCodeKey(ctx, client.GetID())
	}
	return nil
}

// supersede ends the live grant holding a printed user code when it is the same device's (same client
// and serial), so that a new request can take the code. A code held by anyone else is an error.
func (e *DeviceAuthorizationEndpoint) supersede(ctx context.Context, userSig string, req *DeviceRequest, now time.Time) error {
	old, err := e.Storage.GetPendingGrantByUserCode(ctx, pending.KindDeviceCode, userSig, now, nil)
	if errors.Is(err, pending.ErrNotFound) {
		return nil // gone meanwhile: try again
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	ds, ok := e.Storage.(pending.DeactivationStorage)
	if !ok || old.ClientID() != req.GetClient().GetID() || old.Extra[ExtraDeviceSerial] != req.Serial {
		return fosite.ErrTemporarilyUnavailable.WithHint("The device's printed user code is in use by another request.")
	}
	if err := ds.ExpirePendingGrant(ctx, pending.KindDeviceCode, old.HandleSignature, now); err != nil && !errors.Is(err, pending.ErrNotFound) {
		return rfc6749.ServerError(err)
	}
	return nil
}

// WriteDeviceResponse writes the device authorization response: 200, JSON, not cacheable (RFC 8628 §3.2).
func WriteDeviceResponse(rw http.ResponseWriter, resp *DeviceResponse) {
	rfc6749.WriteJSON(rw, http.StatusOK, resp)
}

// CompleteVerificationURI adds the user code to the verification URI (RFC 8628 §3.3.1), keeping any
// query the configured URI already has; see pending.CompleteVerificationURI.
func CompleteVerificationURI(verificationURI, userCode string) string {
	return pending.CompleteVerificationURI(verificationURI, userCode)
}

// DeviceInfoFromRequest records what the server sees of the device (RFC 8628 §5.4); see
// pending.DeviceInfoFromRequest.
func DeviceInfoFromRequest(r *http.Request) pending.DeviceInfo {
	return pending.DeviceInfoFromRequest(r)
}
