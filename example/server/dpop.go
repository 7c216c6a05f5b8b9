package server

import (
	"context"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/handler/rfc8628"
)

// DPoPOptions configure sender-constrained tokens (RFC 9449, package dpop). DPoP is always on: a
// client that sends a DPoP proof with a token request gets tokens bound to its key, for every grant;
// one that sends none gets bearer tokens, unless it registered dpop_bound_access_tokens.
type DPoPOptions struct {
	// RequireNonce makes every proof carry a nonce the server issued (RFC 9449 §8): the first proof of
	// a client gets use_dpop_nonce with a DPoP-Nonce header, and the client retries with it.
	RequireNonce bool
}

// DemoDPoPClientID is a public device client registered with dpop_bound_access_tokens (RFC 9449
// §5.2): every token request it makes must carry a proof. DEMO.
const DemoDPoPClientID = "demo-dpop"

// dpopOptions are the options of the composed DPoP verifier and token endpoint handler.
func (s *Server) dpopOptions() dpop.Options {
	return dpop.Options{RequireNonce: s.opts.DPoP.RequireNonce, Now: s.opts.Now}
}

// setupDPoP registers demo-dpop.
func (s *Server) setupDPoP(ctx context.Context) error {
	return s.store.SetClient(ctx, &registration.Client{
		DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{
				ID:         DemoDPoPClientID,
				Public:     true,
				GrantTypes: []string{string(rfc8628.GrantType), "refresh_token"},
				Scopes:     demoScopes,
			},
			TokenEndpointAuthMethod: "none",
		},
		Metadata: map[string]any{"client_name": "DPoP demo device", dpop.MetaBoundAccessTokens: true},
	})
}
