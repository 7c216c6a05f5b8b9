package compose_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/storage/memory"
)

// A fosite server with the device grant, end to end over real HTTP: fosite's compose.Compose with the
// grant's factory next to fosite's own, the device authorization and token endpoints mounted, a TV
// asking for a code, the person approving it, the TV's polls.
func Example() {
	ctx := context.Background()
	config := &fosite.Config{GlobalSecret: []byte("some-cool-secret-that-is-32bytes")}
	store := memory.New()
	_ = store.SetClient(ctx, &fosite.DefaultClient{
		ID: "tv", Public: true, Scopes: []string{"photos"},
		GrantTypes: []string{string(rfc8628.GrantType)},
	})
	device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device"})
	provider := fcompose.Compose(config, store, fcompose.NewOAuth2HMACStrategy(config),
		fcompose.OAuth2TokenIntrospectionFactory,
		device.Factory,
	)
	compose.WarmDefaults(config)

	mux := http.NewServeMux()
	mux.Handle("/oauth2/device/auth", device.Authorization)
	mux.HandleFunc("/oauth2/token", func(rw http.ResponseWriter, r *http.Request) {
		ar, err := provider.NewAccessRequest(r.Context(), r, openid.NewDefaultSession())
		if err != nil {
			provider.WriteAccessError(r.Context(), rw, ar, err)
			return
		}
		resp, err := provider.NewAccessResponse(r.Context(), ar)
		if err != nil {
			provider.WriteAccessError(r.Context(), rw, ar, err)
			return
		}
		provider.WriteAccessResponse(r.Context(), rw, ar, resp)
	})
	srv := httptest.NewServer(mux)
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

	// The TV asks for a code (RFC 8628 §3.1) and shows the user code and the verification URI.
	d := post("/oauth2/device/auth", url.Values{"client_id": {"tv"}, "scope": {"photos"}})
	fmt.Println(d["verification_uri"], strings.Count(d["user_code"].(string), "-"))

	// It polls (§3.4): the person has not acted yet.
	poll := url.Values{"grant_type": {string(rfc8628.GrantType)}, "client_id": {"tv"}, "device_code": {d["device_code"].(string)}}
	fmt.Println(post("/oauth2/token", poll)["error"])

	// The verification page finds the request by the code the person typed, and approves it.
	a, err := device.Verifier.Approve(ctx, strings.ToLower(d["user_code"].(string)), pending.Caller{Address: "192.0.2.1"},
		pending.Decision{Subject: "alice", Session: openid.NewDefaultSession()})
	fmt.Println(err, a.Client.GetID(), a.GrantedScopes)

	// The TV's next poll gets its token, once.
	tok := post("/oauth2/token", poll)
	fmt.Println(tok["token_type"], tok["scope"], tok["access_token"] != nil)
	fmt.Println(post("/oauth2/token", poll)["error"])
	// Output:
	// https://example.com/device 1
	// authorization_pending
	// <nil> tv [photos]
	// bearer photos true
	// invalid_grant
}
