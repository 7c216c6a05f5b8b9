package hydragrants_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/hydra/v2/client"
	"github.com/ory/hydra/v2/driver"
	"github.com/ory/hydra/v2/driver/config"
	"github.com/ory/hydra/v2/fositex"
	hoauth2 "github.com/ory/hydra/v2/oauth2"
	"github.com/ory/hydra/v2/x"
	"github.com/ory/x/configx"
	"github.com/ory/x/contextx"
	"github.com/ory/x/logrusx"
	"github.com/ory/x/sqlxx"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/integration/hydra/hydragrants"
)

// A Hydra v2.3.0 server on SQLite with the device grant: the grant's factory goes to Hydra through
// Grants.Factory, a TV asks for a code at the grant's endpoint, the person is approved (here by the
// program; see DeviceConsent for Hydra's login and consent), and the TV gets a token at Hydra's own
// token endpoint — a Hydra token, which Hydra's introspection knows.
func ExampleGrants() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hydragrants-example")
	defer os.RemoveAll(dir)
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()

	hydragrants.RegisterSQLite()
	logger := logrusx.New("Ory Hydra", config.Version)
	cfg, err := config.New(ctx, logger, configx.DisableEnvLoading(), configx.WithValues(map[string]any{
		config.KeyDSN: "sqlite://" + filepath.Join(dir, "hydra.db") + "?_fk=true&lock=false", config.KeyIssuerURL: issuer + "/",
		config.KeyGetSystemSecret: []string{"a-system-secret-of-at-least-32-characters"}, config.KeyDevelopmentMode: true,
		config.KeyLogLevel: "fatal",
	}))
	if err != nil {
		panic(err)
	}

	var grants hydragrants.Grants
	device := compose.NewDeviceGrant(rfc8628.Options{AuthorizationURL: issuer + "/oauth2/device/auth", VerificationURI: issuer + "/device"})
	reg := driver.NewRegistrySQL(cfg, logger, config.Version, config.Commit, config.Date)
	reg.WithExtraFositeFactories([]fositex.Factory{grants.Factory(device.Factory)})
	if err := reg.Init(ctx, false, true, &contextx.Default{}, nil, nil); err != nil { // true: apply Hydra's migrations
		panic(err)
	}
	driver.CallRegistry(ctx, reg) // Hydra composes its provider: the grant's factory runs
	defer reg.Persister().Connection(ctx).Close()
	_ = reg.ClientManager().CreateClient(ctx, &client.Client{ID: "tv", Scope: "openid", SubjectType: "public",
		GrantTypes: sqlxx.StringSliceJSONFormat{string(rfc8628.GrantType)}, TokenEndpointAuthMethod: "none"})

	admin, public := x.NewRouterAdmin(cfg.AdminURL), x.NewRouterPublic()
	reg.RegisterRoutes(ctx, admin, public)
	mux := http.NewServeMux()
	mux.Handle("/", public)
	mux.Handle("/oauth2/device/auth", device.Authorization)
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()
	post := func(path string, form url.Values) map[string]any {
		res, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			panic(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return m
	}

	d := post("/oauth2/device/auth", url.Values{"client_id": {"tv"}, "scope": {"openid"}})
	poll := url.Values{"grant_type": {string(rfc8628.GrantType)}, "client_id": {"tv"}, "device_code": {d["device_code"].(string)}}
	fmt.Println(post("/oauth2/token", poll)["error"])

	a, _ := device.Verifier.Lookup(ctx, d["user_code"].(string), pending.Caller{Address: "192.0.2.1"})
	sess, subject, _ := hydragrants.NewSession(ctx, reg, a.Client, hydragrants.Identity{Subject: "alice"})
	_, err = device.Verifier.Approve(ctx, d["user_code"].(string), pending.Caller{Address: "192.0.2.1"}, pending.Decision{Subject: subject, Session: sess})
	fmt.Println(err)

	tok := post("/oauth2/token", poll)
	at := tok["access_token"].(string)
	fmt.Println(strings.HasPrefix(at, "ory_at_"), tok["scope"])
	_, ar, err := reg.OAuth2Provider().IntrospectToken(ctx, at, fosite.AccessToken, hoauth2.NewSessionWithCustomClaims(ctx, cfg, ""))
	fmt.Println(err, ar.GetSession().GetSubject(), ar.GetClient().GetID())
	// Output:
	// authorization_pending
	// <nil>
	// true openid
	// <nil> alice tv
}
