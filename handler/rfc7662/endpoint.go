package rfc7662

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Endpoint is the token introspection endpoint (RFC 7662 §2) as an http.Handler. See the package
// documentation for the rules it applies. Set the fields before first use and do not change them
// afterwards; an Endpoint is safe for concurrent use.
type Endpoint struct {
	// Provider authenticates the caller (AuthenticateClient, so fosite's ClientAuthenticationStrategy
	// applies) and looks tokens up (IntrospectToken, through the composed introspection handlers).
	// Required.
	Provider *fosite.Fosite

	// NewSession returns an empty session of the type the server issues tokens with, for the store to
	// read the token's session into. Nil means openid.NewDefaultSession.
	NewSession func() fosite.Session

	// Allowed reports whether caller may learn about token (RFC 7662 §4: the server may limit which
	// clients may introspect which tokens). When it says no, the answer is {"active":false}, as for a
	// token that does not exist (§2.2). Nil means IssuedToOrFor.
	Allowed func(ctx context.Context, caller fosite.Client, token fosite.AccessRequester) bool
}

// IssuedToOrFor is the default introspection policy: a client may introspect the tokens issued to it,
// and the tokens whose granted audience names its client ID (a resource server registered as a client
// under the audience value it accepts).
func IssuedToOrFor(_ context.Context, caller fosite.Client, token fosite.AccessRequester) bool {
	if c := token.GetClient(); c != nil && c.GetID() == caller.GetID() {
		return true
	}
	for _, aud := range token.GetGrantedAudience() {
		if aud == caller.GetID() {
			return true
		}
	}
	return false
}

// ServeHTTP answers an introspection request (RFC 7662 §2.1) with an introspection response (§2.2) or
// an RFC 6749 §5.2 error.
func (e *Endpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, client, err := rfc6749.ReadRequest(ctx, e.Provider, r)
	if err != nil {
		rfc6749.WriteError(ctx, e.Provider, rw, err)
		return
	}
	if client.IsPublic() {
		// §2.1: the endpoint MUST require authorization, and a public client has no credentials: anyone
		// could claim its client_id and scan for tokens (§4).
		rfc6749.WriteError(ctx, e.Provider, rw, fosite.ErrInvalidClient.WithHint("Public clients may not introspect tokens."))
		return
	}
	token := form.Get("token")
	if token == "" {
		rfc6749.WriteError(ctx, e.Provider, rw, fosite.ErrInvalidRequest.WithHint("The 'token' parameter is required."))
		return
	}
	writeJSON(rw, e.introspect(ctx, client, token, form.Get("token_type_hint")))
}

// introspect returns the members of the introspection response for token, as seen by caller.
func (e *Endpoint) introspect(ctx context.Context, caller fosite.Client, token, hint string) map[string]interface{} {
	// §2.1: the hint only orders the search; a token of another type is still found, and an unknown
	// hint is ignored.
	var use fosite.TokenUse
	switch hint {
	case string(fosite.AccessToken), string(fosite.RefreshToken):
		use = fosite.TokenUse(hint)
	}
	newSession := e.NewSession
	if newSession == nil {
		newSession = func() fosite.Session { return openid.NewDefaultSession() }
	}
	inactive := map[string]interface{}{"active": false}
	found, ar, err := e.Provider.IntrospectToken(ctx, token, use, newSession())
	if err != nil {
		// §2.2: a token that is expired, revoked, unknown or malformed is simply not active.
		return inactive
	}
	allowed := e.Allowed
	if allowed == nil {
		allowed = IssuedToOrFor
	}
	if !allowed(ctx, caller, ar) {
		return inactive
	}
	return e.members(ctx, found, ar)
}

// reserved are the members of §2.2 and those this endpoint computes; a session's extra claims never
// replace them.
var reserved = map[string]bool{
	"active": true, "scope": true, "client_id": true, "username": true, "token_type": true, "exp": true,
	"iat": true, "nbf": true, "sub": true, "aud": true, "iss": true, "jti": true, "cnf": true,
}

// members returns the §2.2 members known for an active token.
func (e *Endpoint) members(ctx context.Context, use fosite.TokenUse, ar fosite.AccessRequester) map[string]interface{} {
	m := map[string]interface{}{"active": true}
	sess := ar.GetSession()
	var claims *jwt.JWTClaims // a JWT access token's, when the session kept them
	if js, ok := sess.(oauth2.JWTSessionContainer); ok && use != fosite.RefreshToken {
		claims, _ = js.GetJWTClaims().(*jwt.JWTClaims)
	}
	if ecs, ok := sess.(fosite.ExtraClaimsSession); ok {
		for k, v := range ecs.GetExtraClaims() {
			if !reserved[k] {
				m[k] = v
			}
		}
	}
	if scopes := ar.GetGrantedScopes(); len(scopes) > 0 {
		m["scope"] = strings.Join(scopes, " ")
	}
	if c := ar.GetClient(); c != nil && c.GetID() != "" {
		m["client_id"] = c.GetID()
	}
	if u := sess.GetUsername(); u != "" {
		m["username"] = u
	}
	tokenType := fosite.AccessToken
	if use == fosite.RefreshToken {
		tokenType = fosite.RefreshToken
	} else {
		// RFC 6749 §7.1, §5.1: the type of an access token; a refresh token has none.
		m["token_type"] = fosite.BearerAccessToken
	}
	// RFC 9449 §6.2: a DPoP-bound access token is of type DPoP and names its key's thumbprint in cnf.
	// A refresh token is bound to the key only when it was issued to a public client (§5); a
	// confidential client's is bound to its credentials.
	if jkt := dpop.BoundTo(sess); jkt != "" {
		if use != fosite.RefreshToken {
			m["token_type"] = dpop.TokenType
			m["cnf"] = dpop.Confirmation(jkt)
		} else if c := ar.GetClient(); c != nil && c.IsPublic() {
			m["cnf"] = dpop.Confirmation(jkt)
		}
	}
	if exp := sess.GetExpiresAt(tokenType); !exp.IsZero() {
		m["exp"] = exp.Unix()
	}
	if iat := ar.GetRequestedAt(); !iat.IsZero() {
		m["iat"] = iat.Unix()
	}
	if sub := sess.GetSubject(); sub != "" {
		m["sub"] = sub
	}
	if aud := ar.GetGrantedAudience(); len(aud) > 0 {
		m["aud"] = []string(aud)
	}
	if iss := e.Provider.Config.GetAccessTokenIssuer(ctx); iss != "" {
		m["iss"] = iss
	}
	// Opaque tokens carry no token ID or not-before time; JWT access tokens may.
	if claims != nil && claims.JTI != "" {
		m["jti"] = claims.JTI
	}
	if claims != nil && !claims.NotBefore.IsZero() {
		m["nbf"] = claims.NotBefore.Unix()
	}
	return m
}

// writeJSON writes an introspection response (§2.2): 200, JSON, never cached.
func writeJSON(rw http.ResponseWriter, v map[string]interface{}) {
	rw.Header().Set("Content-Type", "application/json;charset=UTF-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Pragma", "no-cache")
	rw.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(rw).Encode(v)
}
