package sqlstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// The device grant on a SQLite file: the store holds the clients, the pending grant and fosite's
// tokens, so the grant survives a restart. The server is opened, asked for a code, closed, opened
// again on the same file — the code is still pending there, and the approval made after the restart
// is redeemed.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqlstore-example")
	defer os.RemoveAll(dir)
	dsn := filepath.Join(dir, "grants.db")
	secret := []byte("some-cool-secret-that-is-32bytes") // the same secret across restarts

	// serve opens the store, composes the device grant, and returns its endpoints.
	serve := func() (*sqlstore.Store, *compose.DeviceGrant, http.Handler) {
		config := &fosite.Config{GlobalSecret: secret}
		store, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			panic(err)
		}
		_ = store.SetClient(ctx, &fosite.DefaultClient{ID: "tv", Public: true, GrantTypes: []string{string(rfc8628.GrantType)}})
		device := compose.NewDeviceGrant(rfc8628.Options{VerificationURI: "https://example.com/device"})
		provider := compose.Compose(config, store, fcompose.NewOAuth2HMACStrategy(config), device.Factory)
		mux := http.NewServeMux()
		mux.Handle("/device", device.Authorization)
		mux.HandleFunc("/token", func(rw http.ResponseWriter, r *http.Request) {
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
		return store, device, mux
	}
	call := func(h http.Handler, path string, form url.Values) string {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Body.String()
	}
	field := func(body, name string) string {
		_, v, _ := strings.Cut(body, `"`+name+`":"`)
		v, _, _ = strings.Cut(v, `"`)
		return v
	}

	first, _, h0 := serve()
	d := call(h0, "/device", url.Values{"client_id": {"tv"}})
	deviceCode, userCode := field(d, "device_code"), field(d, "user_code")
	_ = first.Close()

	store, device, h := serve() // a restart
	defer store.Close()
	poll := url.Values{"grant_type": {string(rfc8628.GrantType)}, "client_id": {"tv"}, "device_code": {deviceCode}}
	fmt.Println(field(call(h, "/token", poll), "error"))
	_, err := device.Verifier.Approve(ctx, userCode, pending.Caller{Address: "192.0.2.1"},
		pending.Decision{Subject: "alice", Session: openid.NewDefaultSession()})
	fmt.Println(err)
	fmt.Println(field(call(h, "/token", poll), "token_type"))
	// Output:
	// authorization_pending
	// <nil>
	// bearer
}
