package reciprocal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	xoauth2 "golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// GrantRequest is a reciprocal grant request (draft §2.2.2): the code party A minted, party A's client
// ID at party B, and the access token party B issued to party A, which names the user.
type GrantRequest struct {
	Code        string
	ClientID    string
	AccessToken string
}

// ParseGrantRequest reads the parameters of a reciprocal grant request from a token request form. Each
// is REQUIRED and may appear once (RFC 6749 §3.2); a missing one is invalid_request.
func ParseGrantRequest(form url.Values) (*GrantRequest, error) {
	for _, name := range []string{"code", "client_id", "access_token"} {
		switch v := form[name]; {
		case len(v) > 1:
			return nil, fosite.ErrInvalidRequest.WithHintf("The '%s' parameter must not be included more than once.", name)
		case len(v) == 0 || v[0] == "":
			return nil, fosite.ErrInvalidRequest.WithHintf("The '%s' parameter is missing.", name)
		}
	}
	return &GrantRequest{Code: form.Get("code"), ClientID: form.Get("client_id"), AccessToken: form.Get("access_token")}, nil
}

// GrantStorage is what the grant handler reads: the access tokens party B issued.
type GrantStorage interface {
	oauth2.AccessTokenStorage
}

// GrantHandler is party B's token endpoint handler for the reciprocal grant (draft §2.2.2). In
// HandleTokenEndpointRequest it checks the request, checks that the access token is active, was issued
// to the authenticated client and names a user, redeems the code at the partner's token endpoint
// (RFC 6749 §4.1.3) and gives the token to the Receiver. The request has then been served completely:
// the answer is 200 with `{}`, which TokenEndpoint writes (fosite's NewAccessResponse insists on an
// access token, which this grant does not issue).
type GrantHandler struct {
	// AccessTokens is party B's access token strategy, Storage its token storage.
	AccessTokens oauth2.AccessTokenStrategy
	Storage      GrantStorage
	Partners     Partners
	Receiver     Receiver
	// CodeHash hashes codes for RedeemedChecker; nil disables the repeated-request check.
	CodeHash func(code string) string
	// HTTPClient makes the redemption call; nil means NewHTTPClient with the configured timeout and
	// loopback policy.
	HTTPClient *http.Client
	Config     interface {
		OutboundTimeoutProvider
		LoopbackHTTPProvider
	}
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives accepted and failed grants (never codes or tokens); nil discards.
	Logger *slog.Logger
	// Audit, when not nil, records each code redeemed and kept (see Options.Audit).
	Audit audit.Sink
}

var _ fosite.TokenEndpointHandler = (*GrantHandler)(nil)

// CanHandleTokenEndpointRequest reports whether the request uses the reciprocal grant type.
func (h *GrantHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne(string(GrantType))
}

// CanSkipClientAuth is false: "Party B MUST verify the authentication provided by Party A per
// [RFC6749] 2.3" (draft §2.2.2). fosite authenticates the client before it dispatches.
func (h *GrantHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// GrantTypes lists the grant type this handler serves, for discovery.
func (h *GrantHandler) GrantTypes() []fosite.GrantType { return []fosite.GrantType{GrantType} }

// HandleTokenEndpointRequest serves the whole grant (draft §2.2.2); see GrantHandler.
func (h *GrantHandler) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	client := req.GetClient()
	if client.IsPublic() {
		// fosite lets a public client name itself without credentials; the draft requires party A to
		// authenticate.
		return fosite.ErrInvalidClient.WithHint("The reciprocal grant requires client authentication; public clients cannot use it.")
	}
	if !client.GetGrantTypes().Has(string(GrantType)) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", GrantType)
	}
	gr, err := ParseGrantRequest(req.GetRequestForm())
	if err != nil {
		return err
	}
	if gr.ClientID != client.GetID() {
		return fosite.ErrInvalidRequest.WithHint("The 'client_id' parameter does not name the authenticated client.")
	}
	partner, err := h.Partners.ReciprocalPartner(ctx, client.GetID())
	if errors.Is(err, fosite.ErrNotFound) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not configured as a reciprocal partner.")
	} else if err != nil {
		return rfc6749.ServerError(err)
	}
	subject, err := h.checkAccessToken(ctx, req, gr.AccessToken)
	if err != nil {
		return err
	}

	codeHash := ""
	if h.CodeHash != nil {
		codeHash = h.CodeHash(gr.Code)
		if rc, ok := h.Receiver.(RedeemedChecker); ok {
			done, err := rc.RedeemedWith(ctx, client.GetID(), subject, codeHash)
			if err != nil {
				return rfc6749.ServerError(err)
			}
			if done {
				// Party A retried after losing the answer: the code was redeemed and the token kept.
				return nil
			}
		}
	}

	token, err := h.redeem(ctx, partner, gr.Code)
	if err != nil {
		h.log(ctx, slog.LevelWarn, "reciprocal code not redeemed", client.GetID(), slog.String("error", fosite.ErrorToRFC6749Error(err).DebugField))
		return err
	}
	if err := h.Receiver.ReceiveReciprocalToken(ctx, &Received{ClientID: client.GetID(), Subject: subject, Token: token, CodeHash: codeHash}); err != nil {
		h.log(ctx, slog.LevelError, "reciprocal token not kept", client.GetID(), slog.String("error", err.Error()))
		return fosite.ErrServerError.WithHint("The token could not be stored; send a new code.").WithWrap(err).WithDebug(err.Error())
	}
	h.log(ctx, slog.LevelInfo, "reciprocal grant accepted", client.GetID())
	scope, _ := token.Extra("scope").(string)
	h.auditRedeemed(ctx, client.GetID(), subject, req.GetID(), scope)
	return nil
}

// checkAccessToken returns the subject of an access token that is active, was issued to the request's
// client and names a user; anything else is invalid_grant (the request is "not valid": draft §2.2.2
// requires 400).
func (h *GrantHandler) checkAccessToken(ctx context.Context, req fosite.AccessRequester, token string) (string, error) {
	sig := h.AccessTokens.AccessTokenSignature(ctx, token)
	ar, err := h.Storage.GetAccessTokenSession(ctx, sig, req.GetSession())
	if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInactiveToken) {
		return "", fosite.ErrInvalidGrant.WithHint("The access token is not active.")
	} else if err != nil {
		return "", rfc6749.ServerError(err)
	}
	if err := h.AccessTokens.ValidateAccessToken(ctx, ar, token); err != nil {
		return "", fosite.ErrInvalidGrant.WithHint("The access token is not active.").WithWrap(err).WithDebug(err.Error())
	}
	if exp := ar.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() && !clock.Now(h.Now).Before(exp) {
		return "", fosite.ErrInvalidGrant.WithHint("The access token has expired.")
	}
	// "Party B MUST then verify the access token was granted to the client identified by the client_id."
	if ar.GetClient() == nil || ar.GetClient().GetID() != req.GetClient().GetID() {
		return "", fosite.ErrInvalidGrant.WithHint("The access token was not issued to this client.")
	}
	subject := ar.GetSession().GetSubject()
	if subject == "" {
		return "", fosite.ErrInvalidGrant.WithHint("The access token was not issued for a user.")
	}
	return subject, nil
}

// redeem exchanges the code at the partner. A refusal by the partner (4xx) is invalid_grant: the code
// is bad, and so is the request. Anything else (unreachable, timeout, 5xx, a malformed answer) is
// temporarily_unavailable: party A may send a new code later.
func (h *GrantHandler) redeem(ctx context.Context, p *Partner, code string) (*xoauth2.Token, error) {
	allow := h.Config.GetReciprocalAllowLoopbackHTTP(ctx)
	if err := CheckEndpointString(p.TokenURL, allow); err != nil {
		return nil, fosite.ErrServerError.WithHint("The partner's token endpoint is misconfigured.").WithWrap(err).WithDebug(err.Error())
	}
	client := h.HTTPClient
	timeout := h.Config.GetReciprocalOutboundTimeout(ctx)
	if client == nil {
		client = NewHTTPClient(timeout, allow)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	token, err := p.Exchange(ctx, client, code)
	var re *xoauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500:
		return nil, fosite.ErrInvalidGrant.WithHint("The partner's authorization server refused the code.").
			WithDebugf("partner answered %d %s", re.Response.StatusCode, re.ErrorCode)
	case err != nil:
		return nil, fosite.ErrTemporarilyUnavailable.WithHint("The code could not be redeemed at the partner's authorization server; send a new code later.").
			WithWrap(err).WithDebug(err.Error())
	}
	return token, nil
}

func (h *GrantHandler) log(ctx context.Context, level slog.Level, msg, clientID string, attrs ...slog.Attr) {
	if h.Logger != nil {
		h.Logger.LogAttrs(ctx, level, msg, append([]slog.Attr{slog.String("client_id", clientID)}, attrs...)...)
	}
}

// PopulateTokenEndpointResponse refuses: the grant issues no token, so fosite's NewAccessResponse cannot
// answer it. Serve the token endpoint through TokenEndpoint, which answers 200 `{}` itself.
func (h *GrantHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, _ fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return fosite.ErrServerError.WithDebug("The reciprocal grant was served but NewAccessResponse was called: put reciprocal.TokenEndpoint in front of the token endpoint.")
}
