package server

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/pages.js
var pagesJS []byte

var pages = template.Must(template.New("pages").Funcs(pageFuncs).ParseFS(templateFS, "templates/*.html"))

var titles = map[string]string{
	"home": "Home", "login": "Sign in", "device_enter": "Connect a device", "device_confirm": "Connect a device",
	"device_done": "Connect a device", "consent": "Allow access", "signin_limited": "Sign in", "form_expired": "Form expired",
}

// pageCSP is the pages' Content-Security-Policy: their own script and images only, inline styles.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// render writes a page. It renders into a buffer first so that a template error never sends half a page.
// Every page gets Title, Who (nil when nobody is signed in) and Now (the grants' clock, which times
// on the page are relative to).
func (s *Server) render(rw http.ResponseWriter, status int, name string, data map[string]interface{}) {
	if data == nil {
		data = map[string]interface{}{}
	}
	data["Title"] = titles[name]
	if _, ok := data["Who"]; !ok {
		data["Who"] = (*signedIn)(nil)
	}
	data["Now"] = s.grantsNow()
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("template failed", "template", name, "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	csp := pageCSP
	if src, _ := data["FormAction"].(string); src != "" {
		// A page whose form answer redirects elsewhere (the consent page, to its client): see formActionSource.
		csp = strings.Replace(csp, "form-action 'self'", "form-action 'self' "+src, 1)
	}
	rw.Header().Set("Content-Security-Policy", csp)
	rw.WriteHeader(status)
	_, _ = buf.WriteTo(rw)
}

// pagesScript serves the pages' script (assets/pages.js), which localises times.
func (s *Server) pagesScript(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	rw.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(rw, r, "pages.js", time.Time{}, bytes.NewReader(pagesJS))
}
