package rfc6749_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/storage/memory"
)

const formType = "application/x-www-form-urlencoded"

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func formRequest(method, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, "/oauth2/device/auth", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// TestParseForm covers RFC 6749 §3.1/§3.2 request handling: POST, form encoding, no repeated
// parameter, empty parameters treated as absent, and a bounded body.
func TestParseForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        string
		want        url.Values // nil: invalid_request
	}{
		{name: "plain", method: http.MethodPost, contentType: formType, body: "client_id=a&scope=openid+profile",
			want: url.Values{"client_id": {"a"}, "scope": {"openid profile"}}},
		{name: "charset parameter", method: http.MethodPost, contentType: formType + "; charset=UTF-8", body: "client_id=a",
			want: url.Values{"client_id": {"a"}}},
		{name: "media type is case insensitive", method: http.MethodPost, contentType: "Application/X-WWW-Form-URLEncoded", body: "client_id=a",
			want: url.Values{"client_id": {"a"}}},
		{name: "empty parameters dropped", method: http.MethodPost, contentType: formType, body: "client_id=a&scope=&login_hint",
			want: url.Values{"client_id": {"a"}}},
		{name: "empty body", method: http.MethodPost, contentType: formType, body: "", want: url.Values{}},
		{name: "unknown parameters kept", method: http.MethodPost, contentType: formType, body: "client_id=a&x=y",
			want: url.Values{"client_id": {"a"}, "x": {"y"}}},
		{name: "UTF-8 text", method: http.MethodPost, contentType: formType, body: "client_id=a&login_hint=J%C3%BCrgen",
			want: url.Values{"client_id": {"a"}, "login_hint": {"Jürgen"}}},
		{name: "exactly the limit", method: http.MethodPost, contentType: formType, body: "a=" + strings.Repeat("b", rfc6749.MaxFormBytes-2),
			want: url.Values{"a": {strings.Repeat("b", rfc6749.MaxFormBytes-2)}}},

		{name: "GET", method: http.MethodGet, contentType: formType, body: "client_id=a"},
		{name: "PUT", method: http.MethodPut, contentType: formType, body: "client_id=a"},
		{name: "no content type", method: http.MethodPost, body: "client_id=a"},
		{name: "JSON", method: http.MethodPost, contentType: "application/json", body: `{"client_id":"a"}`},
		{name: "multipart", method: http.MethodPost, contentType: "multipart/form-data; boundary=x", body: "--x--"},
		{name: "malformed content type", method: http.MethodPost, contentType: "application/x-www-form-urlencoded; =", body: "client_id=a"},
		{name: "repeated parameter", method: http.MethodPost, contentType: formType, body: "client_id=a&client_id=b"},
		{name: "repeated identical parameter", method: http.MethodPost, contentType: formType, body: "scope=a&scope=a"},
		{name: "repeated with one empty", method: http.MethodPost, contentType: formType, body: "scope=&scope=a"},
		{name: "malformed escape", method: http.MethodPost, contentType: formType, body: "client_id=%zz"},
		{name: "NUL in a value", method: http.MethodPost, contentType: formType, body: "client_id=a&login_hint=al%00ice"},
		{name: "value not UTF-8", method: http.MethodPost, contentType: formType, body: "client_id=a&login_hint=%FF"},
		{name: "overlong UTF-8", method: http.MethodPost, contentType: formType, body: "client_id=a&login_hint=%C0%AF"},
		{name: "name not UTF-8", method: http.MethodPost, contentType: formType, body: "client_id=a&%FE=1"},
		{name: "NUL in a name", method: http.MethodPost, contentType: formType, body: "client_id=a&x%00=1"},
		{name: "one byte over the limit", method: http.MethodPost, contentType: formType, body: "a=" + strings.Repeat("b", rfc6749.MaxFormBytes-1)},
		{name: "far over the limit", method: http.MethodPost, contentType: formType, body: "a=" + strings.Repeat("b", 4*rfc6749.MaxFormBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := rfc6749.ParseForm(formRequest(tc.method, tc.contentType, tc.body))
			if tc.want == nil {
				require.ErrorIs(t, err, fosite.ErrInvalidRequest)
				rfc := fosite.ErrorToRFC6749Error(err)
				require.Equal(t, http.StatusBadRequest, rfc.StatusCode())
				require.NotEmpty(t, rfc.HintField, "the hint says what was wrong")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("query parameters are not read", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodPost, "/x?client_id=evil&scope=all", strings.NewReader("client_id=a"))
		r.Header.Set("Content-Type", formType)
		got, err := rfc6749.ParseForm(r)
		require.NoError(t, err)
		require.Equal(t, url.Values{"client_id": {"a"}}, got)
	})
	t.Run("hint names the repeated parameter", func(t *testing.T) {
		t.Parallel()
		_, err := rfc6749.ParseForm(formRequest(http.MethodPost, formType, "device_code=a&device_code=b"))
		require.Contains(t, fosite.ErrorToRFC6749Error(err).HintField, "device_code")
	})
}

// FuzzParseForm feeds raw bodies to ParseForm: it never panics, and it either refuses the body with
// invalid_request or returns each parameter once, non-empty.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b&a=c", "a=&b=c", "%zz", "a=b;c=d", "=x", "&&&", "a=%00", strings.Repeat("x", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := rfc6749.ParseForm(formRequest(http.MethodPost, formType, body))
		if err != nil {
			if !errorsIsInvalidRequest(err) {
				t.Fatalf("ParseForm(%q) failed with %v, not invalid_request", body, err)
			}
			return
		}
		for k, v := range got {
			if len(v) != 1 || v[0] == "" {
				t.Fatalf("ParseForm(%q) returned %q = %q", body, k, v)
			}
			// Only text reaches a store: valid UTF-8, no NUL, in names and values.
			if !rfc6749.IsText(k) || !rfc6749.IsText(v[0]) {
				t.Fatalf("ParseForm(%q) returned %q = %q, which is not text", body, k, v)
			}
		}
	})
}

func errorsIsInvalidRequest(err error) bool {
	rfc := fosite.ErrorToRFC6749Error(err)
	return rfc.ErrorField == "invalid_request" && rfc.StatusCode() == http.StatusBadRequest
}

type authenticatorFunc func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error)

func (f authenticatorFunc) AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	return f(ctx, r, form)
}

// TestAuthenticateClient checks the rules AuthenticateClient adds to fosite's client authentication
// (RFC 6749 §2.3) using fosite's real authenticator over the real in-memory store.
func TestAuthenticateClient(t *testing.T) {
	t.Parallel()
	f := newFositeWithClients(t)
	for _, tc := range []struct {
		name      string
		basicUser string
		basicPass string
		form      url.Values
		wantID    string
		wantError string
	}{
		{name: "public client by client_id", form: url.Values{"client_id": {"public"}}, wantID: "public"},
		{name: "confidential via Basic", basicUser: "conf", basicPass: "secret", wantID: "conf"},
		{name: "confidential via Basic with matching body client_id", basicUser: "conf", basicPass: "secret", form: url.Values{"client_id": {"conf"}}, wantID: "conf"},
		{name: "confidential via post", form: url.Values{"client_id": {"conf"}, "client_secret": {"secret"}}, wantID: "conf"},
		{name: "Basic and another body client_id", basicUser: "conf", basicPass: "secret", form: url.Values{"client_id": {"public"}}, wantError: "invalid_request"},
		{name: "wrong secret", basicUser: "conf", basicPass: "wrong", wantError: "invalid_client"},
		{name: "unknown client", form: url.Values{"client_id": {"nobody"}}, wantError: "invalid_client"},
		{name: "no client at all", form: url.Values{}, wantError: "invalid_request"},
		{name: "unknown assertion type", form: url.Values{"client_id": {"conf"}, "client_assertion_type": {"urn:x"}}, wantError: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			form := tc.form
			if form == nil {
				form = url.Values{}
			}
			r := formRequest(http.MethodPost, formType, form.Encode())
			if tc.basicUser != "" {
				r.SetBasicAuth(tc.basicUser, tc.basicPass)
			}
			c, err := rfc6749.AuthenticateClient(context.Background(), f, r, form)
			if tc.wantError != "" {
				require.Error(t, err)
				require.Equal(t, tc.wantError, fosite.ErrorToRFC6749Error(err).ErrorField)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantID, c.GetID())
		})
	}

	t.Run("other failures become invalid_client", func(t *testing.T) {
		t.Parallel()
		a := authenticatorFunc(func(context.Context, *http.Request, url.Values) (fosite.Client, error) {
			return nil, fosite.ErrJTIKnown.WithHint("Claim 'jti' was used before.")
		})
		r := formRequest(http.MethodPost, formType, "")
		_, err := rfc6749.AuthenticateClient(context.Background(), a, r, url.Values{})
		require.ErrorIs(t, err, fosite.ErrInvalidClient)
		require.Equal(t, http.StatusUnauthorized, fosite.ErrorToRFC6749Error(err).StatusCode())
	})
}

func newFositeWithClients(t *testing.T) *fosite.Fosite {
	t.Helper()
	ctx := context.Background()
	cfg := &fosite.Config{GlobalSecret: testSecret, HashCost: 4}
	store := memory.New()
	hash, err := (&fosite.BCrypt{Config: cfg}).Hash(ctx, []byte("secret"))
	require.NoError(t, err)
	require.NoError(t, store.SetClient(ctx, &fosite.DefaultClient{ID: "public", Public: true}))
	require.NoError(t, store.SetClient(ctx, &fosite.DefaultClient{ID: "conf", Secret: hash}))
	// fosite v0.49.0 sets its default hasher on first use, racing when that first use is concurrent:
	// set it here, once.
	cfg.GetSecretsHasher(ctx)
	return fosite.NewOAuth2Provider(store, cfg)
}
