package rfc8628_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The verification API behind the page at the verification URI (RFC 8628 §3.3), on a grant built with
// the typed constructor: the device asks for a code; the page looks up what the person typed — with
// the client, the scopes and the device's address shown so the person can tell a phishing attempt
// (§5.4) — and approves; a second approval of the same code is refused.
func ExampleVerifier() {
	ctx := context.Background()
	config := &fosite.Config{GlobalSecret: []byte("some-cool-secret-that-is-32bytes")}
	store := memory.New()
	_ = store.SetClient(ctx, &fosite.DefaultClient{
		ID: "tv", Public: true, Scopes: []string{"photos", "profile"},
		GrantTypes: []string{string(rfc8628.GrantType)},
	})
	tokens := fcompose.NewOAuth2HMACStrategy(config)
	grant, err := rfc8628.New(config, store, pending.TokenStrategies{AccessToken: tokens, RefreshToken: tokens},
		rfc8628.Options{VerificationURI: "https://example.com/device"})
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest(http.MethodPost, "/oauth2/device/auth", strings.NewReader(url.Values{"client_id": {"tv"}, "scope": {"photos profile"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "203.0.113.9:5000"
	req, _ := grant.Authorization.NewDeviceRequest(ctx, r)
	resp, _ := grant.Authorization.NewDeviceResponse(ctx, req)

	// The person, signed in as alice, types the code in lower case and without the dash.
	typed := strings.ToLower(strings.ReplaceAll(resp.UserCode, "-", ""))
	alice := pending.Caller{Address: "192.0.2.1", Account: "alice"}
	a, err := grant.Verifier.LookupFor(ctx, typed, alice)
	fmt.Println(err, a.Client.GetID(), a.RequestedScopes, a.Device.RemoteAddr, len(a.RecentApprovals))

	// She grants less than was asked.
	sess := openid.NewDefaultSession()
	sess.Subject = "alice"
	a, err = grant.Verifier.Approve(ctx, typed, alice, pending.Decision{Subject: "alice", Session: sess, GrantedScopes: []string{"photos"}})
	fmt.Println(err, a.GrantedScopes)
	_, err = grant.Verifier.Approve(ctx, typed, alice, pending.Decision{Subject: "alice", Session: sess})
	fmt.Println(fosite.ErrorToRFC6749Error(err).ErrorField)
	// Output:
	// <nil> tv [photos profile] 203.0.113.9 0
	// <nil> [photos]
	// invalid_user_code
}
