package server

import (
	"net/http"
	"net/url"
	"regexp"

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
			// The answer to the form redirects to the client: the page's form-action must allow it.
			"FormAction": formActionSource(ar.GetRedirectURI()),
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

// Sources a page's Content-Security-Policy may name in form-action (CSP Level 3 §6.4.1, host-source and
// scheme-source), kept to characters that cannot end the directive.
var (
	originSource = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]+)?$`)
	schemeSource = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:$`)
)

// formActionSource is the CSP source that lets a form's answer redirect to u, the client's validated
// redirection URI: browsers apply form-action to every redirect after a form is sent, so with
// 'self' alone the consent page's answer could never reach a client on another origin. An http(s) URI
// gives its origin, a private-use scheme (RFC 8252 §7.1) the scheme; "" when u has neither in a form
// that is safe to put in the header.
func formActionSource(u *url.URL) string {
	if u == nil {
		return ""
	}
	var src string
	switch scheme := u.Scheme; {
	case scheme == "http" || scheme == "https":
		src = scheme + "://" + u.Host
		if originSource.MatchString(src) {
			return src
		}
	case scheme != "":
		src = scheme + ":"
		if schemeSource.MatchString(src) {
			return src
		}
	}
	return ""
}
