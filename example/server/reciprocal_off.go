package server

import "net/http"

func init() {
	titles["reciprocal_off"] = "Link with partner"
}

// reciprocalOffRoutes serve the reciprocal pages of a server started without -reciprocal-partner: they
// say what the demo is and how to start it, instead of a bare 404.
func (s *Server) reciprocalOffRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /reciprocal", s.reciprocalOff(http.StatusOK))
	m.HandleFunc("/reciprocal/", s.reciprocalOff(http.StatusNotFound))
}

func (s *Server) reciprocalOff(status int) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		who, _ := s.cookies.get(r)
		s.render(rw, status, "reciprocal_off", map[string]interface{}{"Who": who, "Issuer": s.opts.Issuer})
	}
}
