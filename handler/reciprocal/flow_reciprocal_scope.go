package reciprocal

import (
	"context"
	"log/slog"
	"strings"

	"github.com/ory/fosite"
)

// ScopeSource gives the scope party B asks of a client in return (draft §2.1): "" when it asks none.
type ScopeSource interface {
	ReciprocalScope(ctx context.Context, client fosite.Client) (string, error)
}

// ClientScopes is the default ScopeSource: the client's metadata value MetadataScopeKey
// ("reciprocal_scope"), for clients that have a GetMetadata() map[string]any method (the SQL store's
// clients do), else the client's entry in Fallback.
type ClientScopes struct {
	// Fallback maps client IDs to reciprocal scopes, for clients without metadata.
	Fallback map[string]string
}

// ReciprocalScope implements ScopeSource.
func (c ClientScopes) ReciprocalScope(_ context.Context, client fosite.Client) (string, error) {
	if m, ok := client.(interface{ GetMetadata() map[string]any }); ok {
		if s, ok := m.GetMetadata()[MetadataScopeKey].(string); ok && s != "" {
			return s, nil
		}
	}
	return c.Fallback[client.GetID()], nil
}

// ValidScope reports whether s is a scope value as RFC 6749 §3.3 defines it: scope tokens of the
// characters %x21 / %x23-5B / %x5D-7E, separated by single spaces.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return false
			}
		}
	}
	return true
}

// ScopeHandler is party B's half of draft §2.1: it adds the `reciprocal` parameter, the scope party B
// asks of the client in return, to the token response of the authorization code grant (RFC 6749 §4.1.4)
// and, when configured, to the authorization response (§4.1.2). It is both a fosite
// TokenEndpointHandler and an AuthorizeEndpointHandler; register it after fosite's authorization code
// handlers (compose.ReciprocalScopeFactory does), whose responses it extends.
type ScopeHandler struct {
	Scopes ScopeSource
	Config interface {
		AuthorizationResponseScopeProvider
	}
	// Logger receives misconfigured scopes; nil discards.
	Logger *slog.Logger
}

var (
	_ fosite.TokenEndpointHandler     = (*ScopeHandler)(nil)
	_ fosite.AuthorizeEndpointHandler = (*ScopeHandler)(nil)
)

// scope returns the client's reciprocal scope, or "" (logging why) when it has none usable. A bad
// configuration never fails the response it would extend: the tokens are already issued.
func (h *ScopeHandler) scope(ctx context.Context, client fosite.Client) string {
	if client == nil {
		return ""
	}
	s, err := h.Scopes.ReciprocalScope(ctx, client)
	if err == nil && s != "" && !ValidScope(s) {
		err = errInvalidScope
	}
	if err != nil {
		if h.Logger != nil {
			h.Logger.LogAttrs(ctx, slog.LevelWarn, "reciprocal scope not added", slog.String("client_id", client.GetID()), slog.String("error", err.Error()))
		}
		return ""
	}
	return s
}

type scopeError string

func (e scopeError) Error() string { return string(e) }

const errInvalidScope = scopeError("the configured reciprocal scope is not an RFC 6749 §3.3 scope")

// HandleAuthorizeEndpointRequest adds `reciprocal` to the authorization response of the code flow
// (draft §2.1), when configured to and once a code was issued.
func (h *ScopeHandler) HandleAuthorizeEndpointRequest(ctx context.Context, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) error {
	if !h.Config.GetReciprocalScopeInAuthorizationResponse(ctx) || !ar.GetResponseTypes().Has("code") || resp.GetCode() == "" {
		return nil
	}
	if s := h.scope(ctx, ar.GetClient()); s != "" {
		resp.AddParameter(ScopeParameter, s)
	}
	return nil
}

// CanHandleTokenEndpointRequest reports whether the request uses the authorization code grant.
func (h *ScopeHandler) CanHandleTokenEndpointRequest(_ context.Context, req fosite.AccessRequester) bool {
	return req.GetGrantTypes().ExactOne("authorization_code")
}

// CanSkipClientAuth is false: the handler adds to fosite's authorization code grant, which decides.
func (h *ScopeHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest leaves the request to fosite's authorization code handler.
func (h *ScopeHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

// PopulateTokenEndpointResponse adds `reciprocal` to a successful authorization code token response
// (draft §2.1).
func (h *ScopeHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) || resp.GetAccessToken() == "" {
		return fosite.ErrUnknownRequest
	}
	if s := h.scope(ctx, req.GetClient()); s != "" {
		resp.SetExtra(ScopeParameter, s)
	}
	return nil
}
