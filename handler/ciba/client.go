package ciba

import (
	"fmt"

	"github.com/ory/fosite"
)

// GrantType is the grant type of the CIBA token request (CIBA Core §10.1).
const GrantType fosite.GrantType = "urn:openid:params:grant-type:ciba"

// DeliveryMode is how a client gets its tokens (CIBA Core §5): it polls, it is pinged then polls, or
// the tokens are pushed to it.
type DeliveryMode string

// The token delivery modes of CIBA Core §5.
const (
	ModePoll DeliveryMode = "poll"
	ModePing DeliveryMode = "ping"
	ModePush DeliveryMode = "push"
)

// Client metadata names (CIBA Core §4), also the keys read from a client's GetMetadata() map.
const (
	MetaTokenDeliveryMode          = "backchannel_token_delivery_mode"
	MetaClientNotificationEndpoint = "backchannel_client_notification_endpoint"
	MetaRequestSigningAlg          = "backchannel_authentication_request_signing_alg"
	MetaUserCodeParameter          = "backchannel_user_code_parameter"
	// MetaEnrollmentFallback is this module's extension: the client accepts the enrolment response
	// (user_code, verification_uri) when the user cannot be reached on a device. Default false.
	MetaEnrollmentFallback = "backchannel_enrollment_fallback"
	// MetaClientName is the client's display name (OpenID Connect Dynamic Client Registration §2).
	MetaClientName = "client_name"
)

// Client is a client that may use CIBA: a fosite client with the CIBA Core §4 registration metadata.
//
// The grant also accepts a plain fosite.Client that has a GetMetadata() map[string]any method (the SQL
// store's clients do), reading the same names from the map; see MetadataOf.
type Client interface {
	fosite.Client
	// GetBackchannelTokenDeliveryMode returns backchannel_token_delivery_mode.
	GetBackchannelTokenDeliveryMode() DeliveryMode
	// GetBackchannelClientNotificationEndpoint returns backchannel_client_notification_endpoint.
	GetBackchannelClientNotificationEndpoint() string
	// GetBackchannelAuthenticationRequestSigningAlg returns backchannel_authentication_request_signing_alg;
	// empty when the client sends unsigned requests.
	GetBackchannelAuthenticationRequestSigningAlg() string
	// GetBackchannelUserCodeParameter returns backchannel_user_code_parameter.
	GetBackchannelUserCodeParameter() bool
	// GetBackchannelEnrollmentFallback reports whether the client opted in to the enrolment fallback.
	GetBackchannelEnrollmentFallback() bool
}

// DefaultClient is a ready-made Client: fosite's OpenID Connect client plus the CIBA metadata. It is
// JSON-serialisable, and its GetMetadata method exposes the CIBA fields under their registration names
// so that a store persisting GetMetadata() (the SQL store) keeps them.
type DefaultClient struct {
	*fosite.DefaultOpenIDConnectClient
	Name                                       string       `json:"client_name,omitempty"`
	BackchannelTokenDeliveryMode               DeliveryMode `json:"backchannel_token_delivery_mode"`
	BackchannelClientNotificationEndpoint      string       `json:"backchannel_client_notification_endpoint,omitempty"`
	BackchannelAuthenticationRequestSigningAlg string       `json:"backchannel_authentication_request_signing_alg,omitempty"`
	BackchannelUserCodeParameter               bool         `json:"backchannel_user_code_parameter,omitempty"`
	BackchannelEnrollmentFallback              bool         `json:"backchannel_enrollment_fallback,omitempty"`
}

var _ Client = (*DefaultClient)(nil)
var _ fosite.OpenIDConnectClient = (*DefaultClient)(nil)

// GetBackchannelTokenDeliveryMode implements Client.
func (c *DefaultClient) GetBackchannelTokenDeliveryMode() DeliveryMode {
	return c.BackchannelTokenDeliveryMode
}

// GetBackchannelClientNotificationEndpoint implements Client.
func (c *DefaultClient) GetBackchannelClientNotificationEndpoint() string {
	return c.BackchannelClientNotificationEndpoint
}

// GetBackchannelAuthenticationRequestSigningAlg implements Client.
func (c *DefaultClient) GetBackchannelAuthenticationRequestSigningAlg() string {
	return c.BackchannelAuthenticationRequestSigningAlg
}

// GetBackchannelUserCodeParameter implements Client.
func (c *DefaultClient) GetBackchannelUserCodeParameter() bool { return c.BackchannelUserCodeParameter }

// GetBackchannelEnrollmentFallback implements Client.
func (c *DefaultClient) GetBackchannelEnrollmentFallback() bool {
	return c.BackchannelEnrollmentFallback
}

// GetClientName returns the client's display name.
func (c *DefaultClient) GetClientName() string { return c.Name }

// GetMetadata returns the CIBA metadata under its registration names (CIBA Core §4), for stores that
// persist a client's metadata map.
func (c *DefaultClient) GetMetadata() map[string]any {
	m := map[string]any{MetaTokenDeliveryMode: string(c.BackchannelTokenDeliveryMode)}
	if c.Name != "" {
		m[MetaClientName] = c.Name
	}
	if c.BackchannelClientNotificationEndpoint != "" {
		m[MetaClientNotificationEndpoint] = c.BackchannelClientNotificationEndpoint
	}
	if c.BackchannelAuthenticationRequestSigningAlg != "" {
		m[MetaRequestSigningAlg] = c.BackchannelAuthenticationRequestSigningAlg
	}
	if c.BackchannelUserCodeParameter {
		m[MetaUserCodeParameter] = true
	}
	if c.BackchannelEnrollmentFallback {
		m[MetaEnrollmentFallback] = true
	}
	return m
}

// Metadata is a client's CIBA registration metadata (CIBA Core §4), however the client carries it.
type Metadata struct {
	Name                       string
	TokenDeliveryMode          DeliveryMode
	ClientNotificationEndpoint string
	RequestSigningAlg          string
	UserCodeParameter          bool
	EnrollmentFallback         bool
}

// MetadataOf reads the CIBA metadata of c: from its getters when it is a Client, else from its
// GetMetadata() map[string]any (values of the wrong JSON type are an error). A client with neither has
// empty metadata, and so cannot use CIBA (no delivery mode).
func MetadataOf(c fosite.Client) (Metadata, error) {
	if cc, ok := c.(Client); ok {
		m := Metadata{
			TokenDeliveryMode:          cc.GetBackchannelTokenDeliveryMode(),
			ClientNotificationEndpoint: cc.GetBackchannelClientNotificationEndpoint(),
			RequestSigningAlg:          cc.GetBackchannelAuthenticationRequestSigningAlg(),
			UserCodeParameter:          cc.GetBackchannelUserCodeParameter(),
			EnrollmentFallback:         cc.GetBackchannelEnrollmentFallback(),
		}
		if n, ok := c.(interface{ GetClientName() string }); ok {
			m.Name = n.GetClientName()
		}
		return m, nil
	}
	mc, ok := c.(interface{ GetMetadata() map[string]any })
	if !ok {
		return Metadata{}, nil
	}
	raw := mc.GetMetadata()
	var m Metadata
	var err error
	str := func(key string) string {
		v, present := raw[key]
		if !present || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok && err == nil {
			err = fmt.Errorf("ciba: client %q: metadata %s is a %T, not a string", c.GetID(), key, v)
		}
		return s
	}
	boolean := func(key string) bool {
		v, present := raw[key]
		if !present || v == nil {
			return false
		}
		b, ok := v.(bool)
		if !ok && err == nil {
			err = fmt.Errorf("ciba: client %q: metadata %s is a %T, not a boolean", c.GetID(), key, v)
		}
		return b
	}
	m.Name = str(MetaClientName)
	m.TokenDeliveryMode = DeliveryMode(str(MetaTokenDeliveryMode))
	m.ClientNotificationEndpoint = str(MetaClientNotificationEndpoint)
	m.RequestSigningAlg = str(MetaRequestSigningAlg)
	m.UserCodeParameter = boolean(MetaUserCodeParameter)
	m.EnrollmentFallback = boolean(MetaEnrollmentFallback)
	return m, err
}
