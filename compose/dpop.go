package compose

import (
	"context"
	"net/http"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
)

// DPoP is sender-constrained tokens (RFC 9449, package dpop) for every grant the provider serves, to
// compose: pass its Factory to Compose (which places the handler after every other token handler,
// wherever the factory is in the list) or, last of all, to fosite's compose.Compose. Once the factory
// has run, the embedded *dpop.Handler holds the token endpoint handler and its Verifier, which
// protected resources use too (Verifier.CheckResource).
type DPoP struct {
	*dpop.Handler
	options dpop.Options
}

// NewDPoP returns DPoP with opts, to compose.
func NewDPoP(opts dpop.Options) *DPoP { return &DPoP{options: opts} }

// Factory has fosite's compose.Factory signature and works with any fosite.Configurator that names the
// token endpoint's URL. storage must implement dpop.ReplayStorage (UseOnce; the memory and SQL stores
// do), where used proofs are remembered across instances; fosite's global secret keys the server
// nonces when opts.RequireNonce is set.
func (d *DPoP) Factory(config fosite.Configurator, storage, _ interface{}) interface{} {
	const name = "DPoP"
	secret, err := config.GetGlobalSecret(context.Background())
	mustNot(err, name)
	v, err := dpop.NewVerifier(mustImplement[dpop.ReplayStorage](storage, "dpop.ReplayStorage", name), secret, d.options)
	mustNot(err, name)
	h, err := dpop.NewHandler(config, v)
	mustNot(err, name)
	d.Handler = h
	return h
}

// Verify checks a DPoP proof with the composed Verifier (see dpop.Verifier.Verify), so that a DPoP
// value can be handed to a grant (ciba.Options.DPoP) before it is composed. Before its factory has
// run it answers server_error.
func (d *DPoP) Verify(ctx context.Context, proof string, t dpop.Target) (*dpop.Proof, error) {
	if d.Handler == nil {
		return nil, fosite.ErrServerError.WithDebug("DPoP is used before its factory was composed.")
	}
	return d.Verifier.Verify(ctx, proof, t)
}

// CheckResource checks a request to a protected resource (see dpop.Verifier.CheckResource).
func (d *DPoP) CheckResource(ctx context.Context, r *http.Request, urls []string, token, scheme, jkt string) error {
	if d.Handler == nil {
		return fosite.ErrServerError.WithDebug("DPoP is used before its factory was composed.")
	}
	return d.Verifier.CheckResource(ctx, r, urls, token, scheme, jkt)
}
