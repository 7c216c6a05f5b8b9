package ciba

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/pending"
)

// AuthReqIDClaim is the ID token claim that carries the auth_req_id (CIBA Core §10.3.1).
const AuthReqIDClaim = "urn:openid:params:jwt:claim:auth_req_id"

// RefreshTokenHashClaim is the ID token claim that carries the refresh token hash in push mode (CIBA Core
// §10.3.1), computed like at_hash.
const RefreshTokenHashClaim = "urn:openid:params:jwt:claim:rt_hash"

// TokenHandler is fosite's token endpoint handler for the CIBA grant (CIBA Core §10.1, §11), for poll and
// ping clients. Register it with compose (see the compose package).
type TokenHandler struct {
	Storage Storage
	Codes   *pending.Codes
	Issuer  *pending.TokenIssuer
	Config  PollingIntervalProvider
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives replays and failures; nil discards. Pending polls are not logged.
	Logger *slog.Logger
}

var _ fosite.TokenEndpointHandler = (*TokenHandler)(nil)

func (h *TokenHandler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

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
	form := req.GetRequestForm()
	if len(form["auth_req_id"]) > 1 {
		return fosite.ErrInvalidRequest.WithHint("The 'auth_req_id' parameter must not be included more than once.")
	}
	id := form.Get("auth_req_id")
	if id == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'auth_req_id' parameter is missing.")
	}
	sig, err := h.Codes.HandleSignature(ctx, id)
	if err != nil {
		return err
	}
	g, err := h.Storage.GetPendingGrant(ctx, pending.KindCIBA, sig, req.GetSession())
	if errors.Is(err, pending.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.")
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if g.Extra[extraMode] == string(ModePush) {
		return fosite.ErrInvalidGrant.WithHint("The handle is unknown.").WithDebug("The request is in push mode.")
	}

	now := h.now()
	err = pending.Check(g, client.GetID(), now)
	switch {
	case err == nil:
		h.Issuer.Prepare(ctx, g, GrantType, req)
		setAuthReqIDClaim(req.GetSession(), id)
		return nil
	case errors.Is(err, pending.ErrReplayed):
		h.revoke(ctx, g)
		return err
	case errors.Is(err, pending.ErrAuthorizationPending):
		slow, perr := h.Storage.RecordPoll(ctx, pending.KindCIBA, sig, now, SlowDownStep)
		if perr != nil {
			return fosite.ErrServerError.WithWrap(perr).WithDebug(perr.Error())
		}
		if slow {
			return pending.ErrSlowDown
		}
		return err
	default:
		return err
	}
}

// PopulateTokenEndpointResponse consumes the approved request and issues its tokens in one step (CIBA
// Core §10.1.1); the ID token carries the auth_req_id claim (§10.3.1, optional in poll and ping).
func (h *TokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	sig, err := h.Codes.HandleSignature(ctx, req.GetRequestForm().Get("auth_req_id"))
	if err != nil {
		return err
	}
	err = h.Issuer.Issue(ctx, pending.KindCIBA, sig, GrantType, req, resp)
	if errors.Is(err, pending.ErrReplayed) {
		if g, gerr := h.Storage.GetPendingGrant(ctx, pending.KindCIBA, sig, req.GetSession()); gerr == nil {
			h.revoke(ctx, g)
		}
	}
	return err
}

func (h *TokenHandler) revoke(ctx context.Context, g *pending.Grant) {
	err := pending.RevokeReplayed(ctx, h.Storage, g)
	if h.Logger != nil {
		attrs := []slog.Attr{slog.String("client_id", g.ClientID()), slog.String("request_id", g.Request.GetID())}
		if err != nil {
			attrs = append(attrs, slog.String("revocation_error", err.Error()))
		}
		h.Logger.LogAttrs(ctx, slog.LevelWarn, "auth_req_id replayed; tokens it issued are revoked", attrs...)
	}
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
