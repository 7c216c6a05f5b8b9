package observe

import "context"

// Endpoint names an endpoint whose requests Requests is told about.
type Endpoint string

// The endpoints that report their requests.
const (
	// EndpointToken is the token endpoint (RFC 6749 §3.2), every grant: the server's token handler
	// reports it, with the grant type's label (GrantTypeLabel).
	EndpointToken Endpoint = "token"
	// EndpointDeviceAuthorization is the device authorization endpoint (RFC 8628 §3.1),
	// rfc8628.DeviceAuthorizationEndpoint; grant "device_code".
	EndpointDeviceAuthorization Endpoint = "device_authorization"
	// EndpointBackchannel is the backchannel authentication endpoint (CIBA §7),
	// ciba.BackchannelEndpoint; grant "ciba".
	EndpointBackchannel Endpoint = "backchannel_authentication"
	// EndpointOTPChallenge is the OTP grant's challenge endpoint, otp.ChallengeEndpoint; grant "otp".
	EndpointOTPChallenge Endpoint = "otp_challenge"
)

// Requests is told how each request of an OAuth endpoint ended, once it was answered: the endpoint,
// the grant (a grant type's label, GrantTypeLabel, or a pending.Kind) and the outcome (Outcome of the
// error the client was answered with: "ok", or an error code such as invalid_client, invalid_grant,
// authorization_pending, invalid_dpop_proof or use_dpop_nonce). Unlike Grants it also sees the
// requests refused before a grant's steps run — a failed client authentication, a bad DPoP proof (RFC
// 9449 §5), an unsupported grant type — and the token requests of grants without pending steps
// (authorization_code, client_credentials, refresh_token).
type Requests interface {
	Request(ctx context.Context, endpoint Endpoint, grant, outcome string)
}

// Report tells o, when it is not nil, that a request of endpoint for grant ended with err (nil: it
// succeeded). Endpoints call it deferred, with their final error.
func Report(ctx context.Context, o Requests, endpoint Endpoint, grant string, err error) {
	if o != nil {
		o.Request(ctx, endpoint, grant, Outcome(err))
	}
}

// GrantTypeOther and GrantTypeNone are the labels GrantTypeLabel gives a grant_type it does not know and
// a missing one.
const (
	GrantTypeOther = "other"
	GrantTypeNone  = "none"
)

// grantTypes are the grant_type values GrantTypeLabel keeps: RFC 6749 §4, RFC 7523, RFC 8693, RFC
// 8628 §3.4, CIBA §10.1 and this module's reciprocal and OTP grants (their default type).
var grantTypes = map[string]string{
	"authorization_code": "authorization_code",
	"client_credentials": "client_credentials",
	"refresh_token":      "refresh_token",
	"password":           "password",
	"urn:ietf:params:oauth:grant-type:jwt-bearer":             "jwt-bearer",
	"urn:ietf:params:oauth:grant-type:token-exchange":         "token-exchange",
	"urn:ietf:params:oauth:grant-type:device_code":            "device_code",
	"urn:openid:params:grant-type:ciba":                       "ciba",
	"urn:ietf:params:oauth:grant-type:reciprocal":             "reciprocal",
	"https://github.com/fosite-contrib/grants/grant-type/otp": "otp",
}

// GrantTypeLabel is the label of a token request's grant_type parameter: a short name for the grant
// types of RFC 6749, RFC 7523, RFC 8693, RFC 8628 and CIBA and for this module's grants
// ("authorization_code", "client_credentials", "refresh_token", "password", "jwt-bearer",
// "token-exchange", "device_code", "ciba", "reciprocal", "otp"), GrantTypeNone for none and
// GrantTypeOther for anything else, so a client cannot multiply a metric's series. The device and CIBA
// names are those of their pending.Kind.
func GrantTypeLabel(grantType string) string {
	if grantType == "" {
		return GrantTypeNone
	}
	if l, ok := grantTypes[grantType]; ok {
		return l
	}
	return GrantTypeOther
}

// Request implements Requests.
func (Nop) Request(context.Context, Endpoint, string, string) {}

func (m multi) Request(ctx context.Context, endpoint Endpoint, grant, outcome string) {
	for _, o := range m {
		o.Request(ctx, endpoint, grant, outcome)
	}
}
