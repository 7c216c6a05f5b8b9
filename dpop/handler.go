package dpop

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// MetaBoundAccessTokens is the client metadata that makes DPoP mandatory for a client (RFC 9449 §5.2):
// with it true, every token request of the client must carry a proof.
const MetaBoundAccessTokens = "dpop_bound_access_tokens"

// Required reports whether client registered dpop_bound_access_tokens true (RFC 9449 §5.2). It reads a
// GetDPoPBoundAccessTokens() bool method, else the key of the client's GetMetadata() map (the clients
// of handler/registration and of the SQL store have one).
func Required(client fosite.Client) bool {
	switch c := client.(type) {
	case nil:
		return false
	case interface{ GetDPoPBoundAccessTokens() bool }:
		return c.GetDPoPBoundAccessTokens()
	case interface{ GetMetadata() map[string]any }:
		b, _ := c.GetMetadata()[MetaBoundAccessTokens].(bool)
		return b
	}
	return false
}

// HandlerConfig is the configuration the Handler reads: the token endpoint's URLs (a proof's htu must
// name one) and the composed token endpoint handlers (to find its place among them).
type HandlerConfig interface {
	fosite.TokenURLProvider
	fosite.TokenEndpointHandlersProvider
}

// Handler is a fosite token endpoint handler that sender-constrains what every other handler issues
// (RFC 9449 §5): it checks the DPoP proof of each token request, whatever its grant type, binds the
// tokens to the proof's key, and answers token_type DPoP. See the package documentation for the rules
// and for where it must sit among the handlers (after every other). Make one with NewHandler.
type Handler struct {
	// Verifier checks the proofs.
	Verifier *Verifier
	// Config supplies the token endpoint's URLs and the composed handlers.
	Config HandlerConfig
}

var _ fosite.TokenEndpointHandler = (*Handler)(nil)

// NewHandler returns the token endpoint handler. config must name the token endpoint's URL
// (fosite.Config.TokenURL): it is what a proof's htu is compared with.
func NewHandler(config HandlerConfig, v *Verifier) (*Handler, error) {
	if v == nil {
		return nil, errors.New("dpop: the handler needs a Verifier")
	}
	urls := config.GetTokenURLs(context.Background())
	ok := false
	for _, u := range urls {
		if _, valid := NormalizeURL(u); valid {
			ok = true
		}
	}
	if !ok {
		return nil, errors.New("dpop: the configuration names no absolute http(s) token endpoint URL (fosite.Config.TokenURL)")
	}
	return &Handler{Verifier: v, Config: config}, nil
}

// CanHandleTokenEndpointRequest is true: every token request is checked. (It serves no grant of its
// own: HandleTokenEndpointRequest steps aside when no other handler serves the request.)
func (h *Handler) CanHandleTokenEndpointRequest(context.Context, fosite.AccessRequester) bool {
	return true
}

// CanSkipClientAuth is true: client authentication is the grant handlers' matter, and each of them
// still requires it as it always does.
func (h *Handler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return true }

// HandleTokenEndpointRequest checks the request's DPoP proof and records the binding in the session
// the other handlers prepared, which is what their stores keep with the tokens (RFC 9449 §5):
//
//   - A request with a valid proof binds its tokens to the proof's key: the session's thumbprint is
//     set (Bind), unless the session is already bound to another key (a public client's refresh token,
//     a CIBA request bound at the backchannel endpoint), which is invalid_dpop_proof. A confidential
//     client's refresh token is bound to its credentials instead, so its refresh may bind a new key.
//   - A request without a proof is refused with invalid_dpop_proof when the client registered
//     dpop_bound_access_tokens (§5.2) or the session is bound (a public client's bound refresh token
//     "MUST" come with a proof by the same key, §5); a confidential client's refresh without a proof
//     gets bearer tokens.
//   - A bad proof is invalid_dpop_proof, or use_dpop_nonce when a server nonce is required.
//
// It returns server_error when it finds another handler that serves the request after itself in
// the composition, since it could then neither bind what that handler stores nor type the token it
// issues: misplaced, it refuses rather than issue unbound tokens.
func (h *Handler) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	served, misplaced := h.place(ctx, req)
	switch {
	case misplaced:
		return fosite.ErrServerError.WithDebug("The DPoP token endpoint handler must come after every other token endpoint handler: compose its factory last (compose.Compose places it there itself).")
	case !served:
		return fosite.ErrUnknownRequest
	}
	r, _ := ctx.Value(fosite.RequestContextKey).(*http.Request)
	if r == nil {
		return fosite.ErrServerError.WithDebug("The DPoP handler found no HTTP request in the context; call it through fosite's NewAccessRequest.")
	}
	proof, err := ProofOf(r)
	if err != nil {
		return err
	}
	client := req.GetClient()
	session := req.GetSession()
	bound := BoundTo(session)
	// §5: "Refresh tokens issued to confidential clients are not bound to the DPoP proof public key";
	// they are bound to the client's credentials, which fosite checked.
	mayRebind := client != nil && !client.IsPublic() && req.GetGrantTypes().ExactOne(string(fosite.GrantTypeRefreshToken))
	if proof == "" {
		switch {
		case Required(client):
			return ErrInvalidProof.WithHint("The client registered dpop_bound_access_tokens: every token request must carry a DPoP proof.")
		case bound != "" && !mayRebind:
			return ErrInvalidProof.WithHint("The grant is bound to a DPoP key: the request must carry a proof made with that key.")
		case bound != "":
			if err := Bind(session, ""); err != nil {
				return rfc6749.ServerError(err)
			}
			return nil
		}
		return nil
	}
	p, err := h.Verifier.Verify(ctx, proof, Target{Method: r.Method, URLs: h.Config.GetTokenURLs(ctx)})
	if err != nil {
		return err
	}
	if bound != "" && bound != p.JKT && !mayRebind {
		return ErrInvalidProof.WithHint("The DPoP proof is made with another key than the one the grant is bound to.")
	}
	if err := Bind(session, p.JKT); err != nil {
		return rfc6749.ServerError(err)
	}
	return nil
}

// PopulateTokenEndpointResponse sets token_type DPoP (RFC 9449 §5) when the request's tokens are
// bound; the handler that issued them set "bearer".
func (h *Handler) PopulateTokenEndpointResponse(_ context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if BoundTo(req.GetSession()) == "" || resp.GetAccessToken() == "" {
		return fosite.ErrUnknownRequest
	}
	resp.SetTokenType(TokenType)
	return nil
}

// place reports whether a handler before this one serves the request, and whether one after it does.
func (h *Handler) place(ctx context.Context, req fosite.AccessRequester) (served, misplaced bool) {
	self := fosite.TokenEndpointHandler(h)
	after := false
	for _, th := range h.Config.GetTokenEndpointHandlers(ctx) {
		if th == self {
			after = true
			continue
		}
		if th.CanHandleTokenEndpointRequest(ctx, req) {
			if after {
				return served, true
			}
			served = true
		}
	}
	return served, false
}

// Metadata returns the handler's discovery metadata (RFC 9449 §5.1): dpop_signing_alg_values_supported.
func (h *Handler) Metadata() map[string]any {
	return map[string]any{"dpop_signing_alg_values_supported": h.Verifier.Algorithms()}
}
