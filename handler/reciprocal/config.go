package reciprocal

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// GrantType is the grant type party A uses to push an authorization code to party B's token endpoint
// (draft-ietf-oauth-reciprocal-04 §2.2.2, registered in §4.2).
const GrantType fosite.GrantType = "urn:ietf:params:oauth:grant-type:reciprocal"

// ScopeParameter is the name of the token response and authorization response parameter carrying the
// scope of party B's reciprocal request (draft §2.1, registered in §4.1).
const ScopeParameter = "reciprocal"

// MetadataScopeKey is the client metadata key ClientScopes reads: the reciprocal scope party B asks of
// that client (a space-separated RFC 6749 §3.3 scope string).
const MetadataScopeKey = "reciprocal_scope"

// CodeLifespanProvider gives how long an authorization code minted by party A for party B lives.
// The draft says nothing; codes should live minutes, not hours.
type CodeLifespanProvider interface {
	GetReciprocalCodeLifespan(ctx context.Context) time.Duration
}

// OutboundTimeoutProvider bounds each outbound call of the grant: party A's POST to party B's token
// endpoint, party B's redemption at party A's token endpoint.
type OutboundTimeoutProvider interface {
	GetReciprocalOutboundTimeout(ctx context.Context) time.Duration
}

// LoopbackHTTPProvider tells whether outbound calls may use plain http to a loopback address (for
// development on one machine). Everything else must be https.
type LoopbackHTTPProvider interface {
	GetReciprocalAllowLoopbackHTTP(ctx context.Context) bool
}

// AuthorizationResponseScopeProvider tells whether party B also adds the reciprocal parameter to its
// authorization response (draft §2.1, optional), besides the token response.
type AuthorizationResponseScopeProvider interface {
	GetReciprocalScopeInAuthorizationResponse(ctx context.Context) bool
}

// DefaultCodeLifespan is the lifespan of party A's codes when the configuration gives none.
const DefaultCodeLifespan = 2 * time.Minute

// DefaultOutboundTimeout bounds an outbound call when the configuration gives no timeout.
const DefaultOutboundTimeout = 10 * time.Second
