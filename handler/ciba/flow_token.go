package ciba

import (
	"context"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// AuthReqIDClaim is the ID token claim that carries the auth_req_id (CIBA Core §10.3.1).
const AuthReqIDClaim = "urn:openid:params:jwt:claim:auth_req_id"

// RefreshTokenHashClaim is the ID token claim that carries the refresh token hash in push mode (CIBA Core
// §10.3.1), computed like at_hash.
const RefreshTokenHashClaim = "urn:openid:params:jwt:claim:rt_hash"

// TokenHandler is fosite's token endpoint handler for the CIBA grant (CIBA Core §10.1, §11), for poll and
// ping clients. It is part of a Grant (see New); register the Grant with fosite.
type TokenHandler struct {
	lifecycle *pending.Lifecycle
}

var _ fosite.TokenEndpointHandler = (*TokenHandler)(nil)

// CanHandleTokenEndpointRequest reports whether the request uses the CIBA grant type.
func (h *TokenHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne(string(GrantType))
}

// CanSkipClientAuth is false: "the Client MUST authenticate to the Token Endpoint" (CIBA Core §10.1).
func (h *TokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest answers a token request (CIBA Core §10.1, §11): authorization_pending,
// slow_down, access_denied, expired_token, invalid_grant (unknown, another client's, or already used
// auth_req_id), unauthorized_client (a push-mode client, or a client without the grant); or, for an
// approved request, prepares the response.
func (h *TokenHandler) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	client := req.GetClient()
	if client.IsPublic() {
		return fosite.ErrInvalidClient.WithHint("CIBA requires a confidential client that authenticates.")
	}
	if !client.GetGrantTypes().Has(string(GrantType)) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", GrantType)
	}
	if md, err := MetadataOf(client); err == nil && md.TokenDeliveryMode == ModePush {
		// §10.3: in push mode the tokens are delivered to the client; it does not call the token endpoint.
		return fosite.ErrUnauthorizedClient.WithHint("The client is registered for push mode and does not use the token endpoint.")
	}
	g, _, err := h.lifecycle.Poll(ctx, req, func(g *pending.Grant) error {
		if g.Extra[extraMode] == string(ModePush) {
			return fosite.ErrInvalidGrant.WithHint("The handle is unknown.").WithDebug("The request is in push mode.")
		}
		return nil
	})
	if err == nil {
		h.lifecycle.Prepare(ctx, g, GrantType, req)
		setAuthReqIDClaim(req.GetSession(), req.GetRequestForm().Get("auth_req_id"))
		if err := bindDPoP(req.GetSession(), g); err != nil {
			return rfc6749.ServerError(err)
		}
	}
	return err
}

// PopulateTokenEndpointResponse consumes the approved request and issues its tokens in one step (CIBA
// Core §10.1.1); the ID token carries the auth_req_id claim (§10.3.1, optional in poll and ping).
func (h *TokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return h.lifecycle.Redeem(ctx, GrantType, req, resp)
}

// GrantTypes lists the grant type this handler serves, for discovery.
func (h *TokenHandler) GrantTypes() []fosite.GrantType { return []fosite.GrantType{GrantType} }

// setAuthReqIDClaim puts the auth_req_id claim into the session's ID token claims.
func setAuthReqIDClaim(s fosite.Session, authReqID string) {
	if os, ok := s.(openid.Session); ok && os.IDTokenClaims() != nil {
		c := os.IDTokenClaims()
		if c.Extra == nil {
			c.Extra = map[string]interface{}{}
		}
		c.Extra[AuthReqIDClaim] = authReqID
	}
}
