package compose_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/storage/memory"
)

// DPoP composed with the device grant: a TV that signs its token requests with a key gets tokens bound
// to that key (token_type DPoP), which the server records with the tokens.
func ExampleNewDPoP() {
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	config := &fosite.Config{GlobalSecret: []byte("some-cool-secret-that-is-32bytes"), TokenURL: base + "/token"}
	store := memory.New()
	_ = store.SetClient(ctx, &fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: []string{string(rfc8628.GrantType)}})
	device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device"})
	dp := compose.NewDPoP(dpop.Options{})
	provider := compose.Compose(config, store, fcompose.NewOAuth2HMACStrategy(config),
		fcompose.OAuth2TokenIntrospectionFactory, device.Factory, dp.Factory)

	mux := http.NewServeMux()
	mux.Handle("/device/auth", device.Authorization)
	mux.HandleFunc("/token", func(rw http.ResponseWriter, r *http.Request) {
		ar, err := provider.NewAccessRequest(r.Context(), r, dpop.NewOpenIDSession(nil)) // a session that can carry the binding
		if err != nil {
			dpop.SetNonceHeader(rw.Header(), err)
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
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()

	// The TV asks for a code; the person approves it.
	res, _ := http.PostForm(base+"/device/auth", url.Values{"client_id": {"tv"}})
	var d rfc8628.DeviceResponse
	_ = json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	_, _ = device.Verifier.Approve(ctx, d.UserCode, pending.Caller{Address: "192.0.2.1"},
		pending.Decision{Subject: "alice", Session: dpop.NewOpenIDSession(nil)})

	// The TV redeems the code with a DPoP proof: its HTTP client signs each request with its key.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	prover, _ := dpop.NewProver(key)
	tv := &http.Client{Transport: prover.Transport(nil)}
	form := url.Values{"grant_type": {string(rfc8628.GrantType)}, "client_id": {"tv"}, "device_code": {d.DeviceCode}}
	res, _ = tv.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	_, ar, _ := provider.IntrospectToken(ctx, tok.AccessToken, fosite.AccessToken, dpop.NewOpenIDSession(nil))
	fmt.Println(tok.TokenType, dpop.BoundTo(ar.GetSession()) == prover.JKT())
	// Output:
	// DPoP true
}
