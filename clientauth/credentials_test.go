package clientauth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
)

func jws(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestReadCredentials(t *testing.T) {
	t.Parallel()
	const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	for _, tc := range []struct {
		name         string
		basic        []string // id, secret
		form         url.Values
		wantErr      error
		wantMethod   method
		wantClientID string
	}{
		{name: "nothing", form: url.Values{"grant_type": {"x"}}, wantMethod: methodNone},
		{name: "basic", basic: []string{"tv", "s"}, wantMethod: methodID, wantClientID: "tv"},
		{name: "basic, form-encoded id", basic: []string{url.QueryEscape("a b:c"), "s"}, wantMethod: methodID, wantClientID: "a b:c"},
		{name: "basic, badly encoded id", basic: []string{"%zz", "s"}, wantErr: fosite.ErrInvalidRequest},
		{name: "basic and the same client_id", basic: []string{"tv", "s"}, form: url.Values{"client_id": {"tv"}}, wantMethod: methodID, wantClientID: "tv"},
		{name: "basic and another client_id", basic: []string{"tv", "s"}, form: url.Values{"client_id": {"kiosk"}}, wantErr: fosite.ErrInvalidRequest},
		{name: "basic and client_secret", basic: []string{"tv", "s"}, form: url.Values{"client_secret": {"s"}}, wantErr: fosite.ErrInvalidRequest},
		{name: "basic and client_assertion", basic: []string{"tv", "s"}, form: url.Values{"client_assertion_type": {assertionType}, "client_assertion": {jws(`{"sub":"tv"}`)}}, wantErr: fosite.ErrInvalidRequest},
		{name: "basic and a client_assertion_type alone", basic: []string{"tv", "s"}, form: url.Values{"client_assertion_type": {assertionType}}, wantErr: fosite.ErrInvalidRequest},
		{name: "client_secret and client_assertion", form: url.Values{"client_id": {"tv"}, "client_secret": {"s"}, "client_assertion": {jws(`{"sub":"tv"}`)}}, wantErr: fosite.ErrInvalidRequest},
		{name: "client_secret_post", form: url.Values{"client_id": {"tv"}, "client_secret": {"s"}}, wantMethod: methodID, wantClientID: "tv"},
		{name: "empty client_secret is no method", basic: []string{"tv", "s"}, form: url.Values{"client_secret": {""}}, wantMethod: methodID, wantClientID: "tv"},
		{name: "public client", form: url.Values{"client_id": {"tv"}}, wantMethod: methodID, wantClientID: "tv"},
		{name: "assertion with client_id", form: url.Values{"client_id": {"tv"}, "client_assertion_type": {assertionType}, "client_assertion": {jws(`{"sub":"other"}`)}}, wantMethod: methodAssertion, wantClientID: "tv"},
		{name: "assertion, client from sub", form: url.Values{"client_assertion_type": {assertionType}, "client_assertion": {jws(`{"sub":"phone","iss":"phone"}`)}}, wantMethod: methodAssertion, wantClientID: "phone"},
		{name: "assertion, sub not a string", form: url.Values{"client_assertion_type": {assertionType}, "client_assertion": {jws(`{"sub":42}`)}}, wantMethod: methodAssertion},
		{name: "assertion, not a JWS", form: url.Values{"client_assertion_type": {assertionType}, "client_assertion": {"garbage"}}, wantMethod: methodAssertion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tc.basic != nil {
				r.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			got, err := readCredentials(r, tc.form)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantMethod, got.method)
			require.Equal(t, tc.wantClientID, got.clientID)
		})
	}
}

func TestRemoteNetwork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1234", "fe80::/64"},
		{"[::1]:1234", "::/64"},
		{"not an address", "not an address"},
		{"192.0.2.1", "192.0.2.1"},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			require.Equal(t, tc.want, remoteNetwork(r))
		})
	}
}

// FuzzReadCredentials feeds attacker-chosen Authorization headers and bodies to readCredentials and
// checks its contract: no panic; an error is always invalid_request; two methods are never accepted; a
// Basic client and a body client_id are never different; an assertion's client comes from client_id,
// or else from a string "sub".
func FuzzReadCredentials(f *testing.F) {
	f.Add("Basic dHY6cw==", "client_id=tv")
	f.Add("Basic dHY6cw==", "client_secret=s")
	f.Add("", "client_id=tv&client_secret=s")
	f.Add("", "client_assertion_type=x&client_assertion="+jws(`{"sub":"phone"}`))
	f.Add("Basic JXp6OnM=", "")
	f.Add("Bearer abc", "client_id=a%00b")
	f.Fuzz(func(t *testing.T, authorization, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Authorization", authorization)
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		got, err := readCredentials(r, form)
		basicID, _, basic := r.BasicAuth()
		methods := 0
		for _, used := range []bool{basic, form.Get("client_secret") != "", form.Get("client_assertion") != "" || form.Get("client_assertion_type") != ""} {
			if used {
				methods++
			}
		}
		if err != nil {
			require.ErrorIs(t, err, fosite.ErrInvalidRequest)
			return
		}
		require.LessOrEqual(t, methods, 1, "two methods accepted")
		switch got.method {
		case methodNone:
			// No client is named: at most a client_secret for nobody, which fosite refuses.
			require.False(t, basic)
			require.Empty(t, form.Get("client_id"))
			require.Empty(t, form.Get("client_assertion"))
			require.Empty(t, form.Get("client_assertion_type"))
		case methodAssertion:
			if id := form.Get("client_id"); id != "" {
				require.Equal(t, id, got.clientID)
			}
		case methodID:
			if basic {
				id, err := url.QueryUnescape(basicID)
				require.NoError(t, err)
				require.Equal(t, id, got.clientID)
				if bodyID := form.Get("client_id"); bodyID != "" {
					require.Equal(t, bodyID, got.clientID, "two clients accepted")
				}
			} else {
				require.Equal(t, form.Get("client_id"), got.clientID)
			}
		}
	})
}

// FuzzAssertionSubject: assertionSubject never panics, and returns the sub of any well-formed payload.
func FuzzAssertionSubject(f *testing.F) {
	f.Add("phone", "e30.e30.e30")
	f.Add("", "a.b")
	f.Add("ünïcode\x00", "..")
	f.Fuzz(func(t *testing.T, sub, raw string) {
		_ = assertionSubject(raw)
		payload, err := json.Marshal(map[string]string{"sub": sub})
		require.NoError(t, err)
		got := assertionSubject(jws(string(payload)))
		var want struct{ Sub string }
		require.NoError(t, json.Unmarshal(payload, &want)) // invalid UTF-8 comes back as U+FFFD
		require.Equal(t, want.Sub, got)
	})
}
