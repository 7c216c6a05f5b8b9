package server

import (
	"net/http"

	"github.com/ory/fosite"
)

// authorize is the authorization endpoint (RFC 6749 §3.1) for fosite's authorization-code grant: the
// signed-in user sees the client and scopes and consents. DEMO: consent is not remembered.
func (s *Server) authorize(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.provider
	ar, err := p.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.WriteAuthorizeError(ctx, rw, ar, err)
		return
	}
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	if r.Method != http.MethodPost || r.PostFormValue("consent") == "" || !s.cookies.checkCSRF(r, who) {
		s.render(rw, http.StatusOK, "consent", map[string]interface{}{
			"Who": who, "ClientName": ar.GetClient().GetID(), "Scopes": describeScopes(ar.GetRequestedScopes()),
			"Action": r.URL.RequestURI(),
		})
		return
	}
	if r.PostFormValue("consent") != "allow" {
		p.WriteAuthorizeError(ctx, rw, ar, fosite.ErrAccessDenied.WithHint("The user declined."))
		return
	}
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	resp, err := p.NewAuthorizeResponse(ctx, ar, s.newSession(who.Subject, who.AuthTime))
	if err != nil {
		p.WriteAuthorizeError(ctx, rw, ar, err)
		return
	}
	p.WriteAuthorizeResponse(ctx, rw, ar, resp)
}
