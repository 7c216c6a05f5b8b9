package hydragrants

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
)

// Metadata is what each of this module's grants (rfc8628.Grant, ciba.Grant, otp.Grant) publishes in
// discovery.
type Metadata interface {
	Metadata() map[string]any
}

// Discovery returns Hydra's discovery document (OpenID Connect Discovery 1.0, served by hydra at
// /.well-known/openid-configuration) with the metadata of grants merged in: their endpoints
// (device_authorization_endpoint, backchannel_authentication_endpoint, ...) and their grant types,
// appended to Hydra's grant_types_supported. hydra is Hydra's public handler; the handler returned
// answers any path with the merged document (mount it at /.well-known/openid-configuration, and at
// /.well-known/oauth-authorization-server for RFC 8414 clients). Pass the grants once their factories
// have run (compose.DeviceGrant.Grant, ...).
func Discovery(hydra http.Handler, grants ...Metadata) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := r.Clone(r.Context())
		in.URL.Path = "/.well-known/openid-configuration"
		in.URL.RawPath = ""
		rec := httptest.NewRecorder()
		hydra.ServeHTTP(rec, in)
		var doc map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		mergeMetadata(doc, grants)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(doc)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.Bytes())
	})
}

// mergeMetadata adds the grants' metadata to doc: grant_types_supported is the union (doc's first, in
// order), every other member is set.
func mergeMetadata(doc map[string]any, grants []Metadata) {
	types := []any{}
	seen := map[string]bool{}
	add := func(v any) {
		if s, ok := v.(string); ok && !seen[s] {
			seen[s] = true
			types = append(types, s)
		}
	}
	if list, ok := doc["grant_types_supported"].([]any); ok {
		for _, v := range list {
			add(v)
		}
	}
	for _, g := range grants {
		for k, v := range g.Metadata() {
			if k != "grant_types_supported" {
				doc[k] = v
				continue
			}
			switch list := v.(type) {
			case []string:
				for _, s := range list {
					add(s)
				}
			case []any:
				for _, s := range list {
					add(s)
				}
			}
		}
	}
	doc["grant_types_supported"] = types
}
