package server

import (
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
)

// resourceRoutes mounts the demo's protected resource.
func (s *Server) resourceRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/whoami", s.whoami)
}

// whoami is a small protected resource: it says whom the access token speaks for, which client holds
// it and how it was presented. It takes bearer tokens (RFC 6750) and DPoP-bound tokens with a proof
// (RFC 9449 §7), like userinfo.
func (s *Server) whoami(rw http.ResponseWriter, r *http.Request) {
	ar, scheme, ok := s.resourceToken(rw, r, "/api/whoami")
	if !ok {
		return
	}
	out := map[string]any{
		"sub":        ar.GetSession().GetSubject(),
		"client_id":  ar.GetClient().GetID(),
		"scope":      ar.GetGrantedScopes(),
		"token_type": scheme,
	}
	if jkt := dpop.BoundTo(ar.GetSession()); jkt != "" {
		out["cnf"] = dpop.Confirmation(jkt)
	}
	writeJSON(rw, http.StatusOK, out)
}

// resourceToken authenticates a request to the protected resource at path (on this server's issuer
// URL) and returns the access token's request and the scheme it came with; on failure it has written
// the answer. A token with the Bearer scheme (or, as RFC 6750 §2.2 allows, in the form) must not be
// DPoP-bound; one with the DPoP scheme must be bound and come with a proof for this request, carrying
// its hash, made with its key (RFC 9449 §7.1, §7.2). Failures are 401 with a challenge.
func (s *Server) resourceToken(rw http.ResponseWriter, r *http.Request, path string) (fosite.AccessRequester, string, bool) {
	ctx := r.Context()
	token, scheme := dpop.AccessToken(r)
	if token == "" && r.Header.Get("Authorization") == "" {
		token, scheme = fosite.AccessTokenFromRequest(r), "Bearer"
	}
	if token == "" {
		rw.Header().Add("WWW-Authenticate", `Bearer realm="grants"`)
		rw.Header().Add("WWW-Authenticate", s.dpop.Verifier.Challenge())
		writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "An access token is required."})
		return nil, "", false
	}
	_, ar, err := s.provider.IntrospectToken(ctx, token, fosite.AccessToken, s.newSession("", time.Time{}))
	if err != nil {
		if scheme == dpop.TokenType {
			s.dpop.Verifier.WriteResourceError(rw, dpop.ErrInvalidToken.WithHint("The access token is not active."))
		} else {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="grants", error="invalid_token"`)
			writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is not active."})
		}
		return nil, "", false
	}
	if err := s.dpop.CheckResource(ctx, r, []string{s.opts.Issuer + path}, token, scheme, dpop.BoundTo(ar.GetSession())); err != nil {
		s.dpop.Verifier.WriteResourceError(rw, err)
		return nil, "", false
	}
	return ar, scheme, true
}
