package reciprocal

import (
	"context"
	"net/http"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"
)

// Partner is how party B redeems the codes of one partner (party A) at party A's token endpoint
// (draft §2.2.2, RFC 6749 §4.1.3): party B is a client of party A.
type Partner struct {
	// TokenURL is party A's token endpoint. It must be https (loopback http only when allowed).
	TokenURL string
	// ClientID and ClientSecret are party B's credentials at party A.
	ClientID     string
	ClientSecret string
	// AuthStyle is how party B authenticates at party A: oauth2.AuthStyleInHeader (client_secret_basic,
	// the default when zero) or oauth2.AuthStyleInParams (client_secret_post). Auto-detection is not
	// used: its second attempt would present the same code twice.
	AuthStyle oauth2.AuthStyle
}

// Partners finds the Partner of a client of party B: the party A whose client ID at party B is
// clientID. It returns fosite.ErrNotFound when the client is no reciprocal partner.
type Partners interface {
	ReciprocalPartner(ctx context.Context, clientID string) (*Partner, error)
}

// PartnerMap is a fixed Partners: client ID at party B → Partner.
type PartnerMap map[string]Partner

// ReciprocalPartner implements Partners.
func (m PartnerMap) ReciprocalPartner(_ context.Context, clientID string) (*Partner, error) {
	p, ok := m[clientID]
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return &p, nil
}

// Exchange redeems code at the partner's token endpoint with client (RFC 6749 §4.1.3). No redirect_uri
// is sent: there was no authorization request (draft §2.2.2).
func (p *Partner) Exchange(ctx context.Context, client *http.Client, code string) (*oauth2.Token, error) {
	style := p.AuthStyle
	if style == oauth2.AuthStyleAutoDetect {
		style = oauth2.AuthStyleInHeader
	}
	cfg := &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: oauth2.Endpoint{TokenURL: p.TokenURL, AuthStyle: style}}
	return cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), code)
}
