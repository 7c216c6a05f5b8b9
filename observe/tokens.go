package observe

import "context"

// Tokens is told how each request of a token endpoint (RFC 6749 §3.2) ended, whatever its grant: the
// grant type's label (GrantTypeLabel) and the outcome (Outcome of the error the client was answered
// with: "ok", or an error code such as invalid_grant, invalid_client, authorization_pending,
// invalid_dpop_proof or use_dpop_nonce). It sees the requests that end before a grant's steps run —
// a refused client authentication, a bad DPoP proof (RFC 9449 §5), an unsupported grant type — as
// well as those of grants without pending steps (authorization_code, client_credentials,
// refresh_token). The server's token endpoint calls it once per request, after it answered.
type Tokens interface {
	TokenRequest(ctx context.Context, grantType, outcome string)
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

// TokenRequest implements Tokens.
func (Nop) TokenRequest(context.Context, string, string) {}

func (m multi) TokenRequest(ctx context.Context, grantType, outcome string) {
	for _, o := range m {
		o.TokenRequest(ctx, grantType, outcome)
	}
}
