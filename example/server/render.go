package server

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

var titles = map[string]string{
	"home": "Home", "login": "Sign in", "device_enter": "Connect a device", "device_confirm": "Connect a device",
	"device_done": "Connect a device", "consent": "Allow access", "signin_limited": "Sign in", "form_expired": "Form expired",
}

// render writes a page. It renders into a buffer first so that a template error never sends half a page.
func (s *Server) render(rw http.ResponseWriter, status int, name string, data map[string]interface{}) {
	if data == nil {
		data = map[string]interface{}{}
	}
	data["Title"] = titles[name]
	if _, ok := data["Who"]; !ok {
		data["Who"] = (*signedIn)(nil)
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("template failed", "template", name, "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'")
	rw.WriteHeader(status)
	_, _ = buf.WriteTo(rw)
}
