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
	consent := func(status int, errMsg *pageError) {
		s.render(rw, status, "consent", map[string]interface{}{
			"Who": who, "ClientName": ar.GetClient().GetID(), "Scopes": describeScopeChoices(ar.GetRequestedScopes(), r.PostForm),
			"Action": r.URL.RequestURI(), "Error": errMsg,
		})
	}
	if r.Method != http.MethodPost || r.PostFormValue("consent") == "" || !s.cookies.checkCSRF(r, who) {
		consent(http.StatusOK, nil)
		return
	}
	if r.PostFormValue("consent") != "allow" {
		p.WriteAuthorizeError(ctx, rw, ar, fosite.ErrAccessDenied.WithHint("The user declined."))
		return
	}
	// Every requested scope, those with a choice as the person chose (package scopechoice).
	granted, err := demoChoices.Grant(ar.GetRequestedScopes(), r.PostForm)
	if err != nil {
		consent(http.StatusBadRequest, &pageError{What: "An answer was missing, so nothing was changed.", Next: "Answer each question, then choose again."})
		return
	}
	for _, sc := range granted.Scopes {
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
