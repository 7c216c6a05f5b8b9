package registration_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/registration"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/storage/memory"
)

// Compose the registration endpoint with the device grant, mount it, and register a kiosk device that
// will authenticate with private_key_jwt.
func Example() {
	store := memory.New()
	cfg := &fosite.Config{GlobalSecret: []byte("some-cool-secret-that-is-32bytes"), TokenURL: "https://as.example/oauth2/token"}
	device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://as.example/device"})
	reg := compose.NewRegistration(registration.Options{
		URL:    "https://as.example/oauth2/register",
		Tokens: registration.NewStaticTokens("token-handed-to-the-kiosk-vendor"),
	})
	p := compose.Compose(cfg, store, fcompose.NewOAuth2HMACStrategy(cfg), device.Factory, reg.Factory)
	fmt.Println(p.Metadata()["registration_endpoint"])

	body := `{"client_name":"Kiosk phone","grant_types":["` + registration.GrantTypeDeviceCode + `"],
		"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[` + ecPublicJWK + `]},"scope":"openid"}`
	req := httptest.NewRequest(http.MethodPost, "/oauth2/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer token-handed-to-the-kiosk-vendor")
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, req)
	out, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, strings.Contains(string(out), `"token_endpoint_auth_signing_alg":"ES256"`))
	// Output:
	// https://as.example/oauth2/register
	// 201 true
}
