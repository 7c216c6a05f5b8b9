package ciba

import (
	"context"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
)

// DPoPVerifier checks a DPoP proof (RFC 9449 §4.3) and keeps it single-use. *dpop.Verifier and
// compose.DPoP implement it.
type DPoPVerifier interface {
	Verify(ctx context.Context, proof string, t dpop.Target) (*dpop.Proof, error)
}

// extraDPoPJKT is the pending grant's Extra key for the thumbprint of the key the backchannel request
// proved (non-secret: a thumbprint of a public key).
const extraDPoPJKT = "dpop_jkt"

// proofKey checks the DPoP proof of a backchannel authentication request, made for a POST to
// Options.BackchannelURL, and returns its key's thumbprint: "" when the request has no proof, or when
// the server has no Options.DPoP (it then ignores the header, as a server without DPoP does at the
// token endpoint). A push client registered with dpop_bound_access_tokens must send one: its tokens are
// issued without a token request, so this is its only chance.
func (e *BackchannelEndpoint) proofKey(ctx context.Context, r *http.Request, client fosite.Client, md Metadata) (string, error) {
	if e.options.DPoP == nil {
		return "", nil
	}
	proof, err := dpop.ProofOf(r)
	if err != nil {
		return "", err
	}
	if proof == "" {
		if md.TokenDeliveryMode == ModePush && dpop.Required(client) {
			return "", dpop.ErrInvalidProof.WithHint("The client registered dpop_bound_access_tokens and push mode: its backchannel authentication request must carry a DPoP proof.")
		}
		return "", nil
	}
	if e.options.BackchannelURL == "" {
		return "", fosite.ErrServerError.WithDebug("DPoP at the backchannel endpoint needs Options.BackchannelURL, which a proof's htu must name.")
	}
	p, err := e.options.DPoP.Verify(ctx, proof, dpop.Target{Method: r.Method, URLs: []string{e.options.BackchannelURL}})
	if err != nil {
		return "", err
	}
	return p.JKT, nil
}

// bindDPoP binds the tokens of an approved request to the key its backchannel request proved, if any,
// by recording the key in the session they are issued with. At the token endpoint the DPoP handler
// then requires a proof by that key (the session is bound before it looks); in push mode the tokens
// are delivered bound.
func bindDPoP(s fosite.Session, g *pending.Grant) error {
	if jkt := g.Extra[extraDPoPJKT]; jkt != "" {
		return dpop.Bind(s, jkt)
	}
	return nil
}

// pushTokenType sets the token_type of pushed tokens (CIBA Core §10.3.1) that are bound.
func pushTokenType(s fosite.Session, resp fosite.AccessResponder) {
	if dpop.BoundTo(s) != "" {
		resp.SetTokenType(dpop.TokenType)
	}
}
