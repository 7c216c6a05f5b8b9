package registration

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Grant types this package knows by name, besides RFC 6749's.
const (
	// GrantTypeDeviceCode is the device grant (RFC 8628 §3.4).
	GrantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	// GrantTypeCIBA is OpenID CIBA's grant (CIBA Core §10.1).
	GrantTypeCIBA = "urn:openid:params:grant-type:ciba"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodNone              = "none"
)

// Policy is what the server lets clients register. Every list is used as it is: an empty list allows
// nothing. DefaultPolicy returns a policy with every supported value.
type Policy struct {
	// GrantTypes are the grant_types a client may register (RFC 7591 §2). Known: authorization_code,
	// implicit, refresh_token, client_credentials, GrantTypeDeviceCode, GrantTypeCIBA.
	GrantTypes []string
	// Scopes are the scope values a client may register (RFC 7591 §2). A client that sends no scope is
	// registered with all of them.
	Scopes []string
	// TokenEndpointAuthMethods are the token_endpoint_auth_method values a client may register; known:
	// private_key_jwt, client_secret_basic, client_secret_post, none.
	TokenEndpointAuthMethods []string
	// SigningAlgorithms are the JWS algorithms a client may register for token_endpoint_auth_signing_alg
	// and backchannel_authentication_request_signing_alg; only RS256/384/512, PS256/384/512 and
	// ES256/384/512 are ever accepted (never "none" or an HMAC), whatever this list says.
	SigningAlgorithms []string
	// BackchannelTokenDeliveryModes are the CIBA delivery modes a client may register (CIBA Core §4):
	// poll, ping, push.
	BackchannelTokenDeliveryModes []string
	// BackchannelUserCodeParameter allows clients to register backchannel_user_code_parameter: true
	// (CIBA Core §4). Set it only when the CIBA grant checks user codes (ciba.Options.UserCodes), as
	// discovery's backchannel_user_code_parameter_supported then says: a client registered for user
	// codes on a server that checks none could make no request at all. Default false.
	BackchannelUserCodeParameter bool
	// AllowLoopbackHTTP accepts loopback hosts (127.0.0.0/8, ::1, localhost), over http:// too, for
	// jwks_uri and backchannel_client_notification_endpoint, which otherwise must be https URLs whose
	// host is not a loopback, private, link-local or reserved IP literal, nor localhost (see
	// outbound.CheckURL; names are judged when the server connects). For development only.
	AllowLoopbackHTTP bool
	// Extensions validates further metadata fields by name: a field with a validator is checked and
	// stored in the client's metadata; a field with none is ignored (RFC 7591 §2: "The authorization
	// server MUST ignore any client metadata sent by the client that it does not understand").
	Extensions map[string]ExtensionValidator
}

// PolicyProvider gives the registration policy. The endpoint asks for it on every request.
type PolicyProvider interface {
	GetRegistrationPolicy(ctx context.Context) *Policy
}

// ExtensionValidator validates the value of one extension metadata field, as decoded from JSON
// (string, float64, bool, []any, map[string]any or nil), seeing the rest of the validated metadata. It
// returns the value to store, which must encode to JSON, or an error whose message tells the client
// what is wrong (it becomes the hint of an invalid_client_metadata error).
type ExtensionValidator func(value any, m *Metadata) (any, error)

// DefaultPolicy allows every grant type, method, algorithm and delivery mode this package knows (except
// the implicit grant), the OpenID Connect scopes and offline_access, and https URLs only.
func DefaultPolicy() *Policy {
	return &Policy{
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials", GrantTypeDeviceCode, GrantTypeCIBA},
		Scopes:     []string{"openid", "offline_access", "offline", "profile", "email", "address", "phone"},
		TokenEndpointAuthMethods: []string{AuthMethodPrivateKeyJWT, AuthMethodClientSecretBasic,
			AuthMethodClientSecretPost, AuthMethodNone},
		SigningAlgorithms:             supportedAlgs,
		BackchannelTokenDeliveryModes: []string{"poll", "ping", "push"},
	}
}

// supportedAlgs are the JWS algorithms fosite verifies client assertions with.
var supportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// DurationSeconds returns an ExtensionValidator for a duration in whole seconds between min and max,
// such as a per-client device code lifespan. It stores the number of seconds as a JSON number.
func DurationSeconds(min, max time.Duration) ExtensionValidator {
	return func(v any, _ *Metadata) (any, error) {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, fmt.Errorf("must be a whole number of seconds")
		}
		if f < min.Seconds() || f > max.Seconds() {
			return nil, fmt.Errorf("must be between %d and %d seconds", int64(min/time.Second), int64(max/time.Second))
		}
		return f, nil
	}
}

// Boolean is an ExtensionValidator for a JSON boolean, such as CIBA's backchannel_enrollment_fallback
// (this module's extension, see package ciba).
func Boolean(v any, _ *Metadata) (any, error) {
	b, ok := v.(bool)
	if !ok {
		return nil, fmt.Errorf("must be true or false")
	}
	return b, nil
}
