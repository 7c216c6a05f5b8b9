package hydragrants

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/ory/hydra/v2/client"
	"github.com/ory/hydra/v2/driver"
	hoauth2 "github.com/ory/hydra/v2/oauth2"
)

// Identity is who a grant is approved for, and the claims its tokens carry: what Hydra's consent
// session holds for an authorization code, or what an administrator or a CIBA authentication device
// says.
type Identity struct {
	// Subject is the user, as the login step authenticated them.
	Subject string
	// ForceSubjectIdentifier is the pairwise identifier the login step forced, if any.
	ForceSubjectIdentifier string
	// AuthenticatedAt is when the user authenticated (the ID token's auth_time); zero means now.
	AuthenticatedAt time.Time
	// ACR and AMR are the ID token's acr and amr.
	ACR string
	AMR []string
	// IDToken and AccessToken are extra claims of the ID token and of the access token (Hydra's
	// consent session: session.id_token and session.access_token).
	IDToken     map[string]any
	AccessToken map[string]any
	// LoginSessionID is the ID token's sid, when the login step had a session.
	LoginSessionID string
	// ConsentChallenge, when set, ties the tokens to Hydra's consent session (revoking the consent
	// through Hydra's admin API then revokes them).
	ConsentChallenge string
}

// NewSession returns the Hydra session an approval of a grant for cl and id issues its tokens with,
// built the way Hydra's authorization endpoint builds the session of an authorization code: the ID
// token's subject is Hydra's subject identifier for the client (pairwise when the client asks for it),
// its issuer Hydra's, its key ID Hydra's OpenID Connect signing key's; the access token carries
// id.AccessToken and, for clients with JWT access tokens, the access token signing key's ID.
//
// The second result is the subject to approve the grant for: the ID token's subject
// (pending.ValidateApproval requires them to match).
func NewSession(ctx context.Context, r driver.Registry, cl fosite.Client, id Identity) (*hoauth2.Session, string, error) {
	hc, ok := hydraClient(cl)
	if !ok {
		return nil, "", fmt.Errorf("hydragrants: the client (%T) is not a Hydra client", cl)
	}
	subject, err := r.ConsentStrategy().ObfuscateSubjectIdentifier(ctx, hc, id.Subject, id.ForceSubjectIdentifier)
	if err != nil {
		return nil, "", err
	}
	openIDKeyID, err := r.OpenIDJWTStrategy().GetPublicKeyID(ctx)
	if err != nil {
		return nil, "", err
	}
	var accessTokenKeyID string
	if r.Config().AccessTokenStrategy(ctx, client.AccessTokenStrategySource(hc)) == "jwt" {
		if accessTokenKeyID, err = r.AccessTokenJWTStrategy().GetPublicKeyID(ctx); err != nil {
			return nil, "", err
		}
	}
	now := time.Now().Truncate(time.Second).UTC()
	authTime := id.AuthenticatedAt
	if authTime.IsZero() {
		authTime = now
	}
	idExtra := map[string]any{}
	for k, v := range id.IDToken {
		idExtra[k] = v
	}
	claims := &jwt.IDTokenClaims{
		Subject:                             subject,
		Issuer:                              r.Config().IssuerURL(ctx).String(),
		AuthTime:                            authTime.UTC(),
		RequestedAt:                         now,
		IssuedAt:                            now,
		Audience:                            []string{hc.GetID()},
		Extra:                               idExtra,
		AuthenticationContextClassReference: id.ACR,
		AuthenticationMethodsReferences:     id.AMR,
	}
	if id.LoginSessionID != "" {
		claims.Add("sid", id.LoginSessionID)
	}
	atExtra := map[string]any{}
	for k, v := range id.AccessToken {
		atExtra[k] = v
	}
	return &hoauth2.Session{
		DefaultSession: &openid.DefaultSession{
			Claims:  claims,
			Headers: &jwt.Headers{Extra: map[string]any{"kid": openIDKeyID}},
			Subject: id.Subject,
		},
		Extra:                 atExtra,
		KID:                   accessTokenKeyID,
		ClientID:              hc.GetID(),
		ConsentChallenge:      id.ConsentChallenge,
		ExcludeNotBeforeClaim: r.Config().ExcludeNotBeforeClaim(ctx),
		AllowedTopLevelClaims: r.Config().AllowedTopLevelClaims(ctx),
		MirrorTopLevelClaims:  r.Config().MirrorTopLevelClaims(ctx),
	}, subject, nil
}

// hydraClient returns Hydra's client inside c.
func hydraClient(c fosite.Client) (*client.Client, bool) {
	switch c := c.(type) {
	case *Client:
		return c.Client, true
	case *client.Client:
		return c, true
	}
	return nil, false
}
