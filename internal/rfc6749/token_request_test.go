package rfc6749_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// TestCheckTokenRequest: the RFC 6749 §3.2 input rules applied in front of fosite's token endpoint.
func TestCheckTokenRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        string
		ok          bool
	}{
		{"plain", http.MethodPost, formType, "grant_type=client_credentials&scope=a", true},
		{"empty parameter allowed", http.MethodPost, formType, "grant_type=client_credentials&scope=", true},
		{"exactly the limit", http.MethodPost, formType, "a=" + strings.Repeat("b", rfc6749.MaxTokenRequestBytes-2), true},
		{"GET", http.MethodGet, formType, "grant_type=client_credentials", false},
		{"repeated parameter", http.MethodPost, formType, "grant_type=client_credentials&grant_type=password", false},
		{"repeated device_code", http.MethodPost, formType, "device_code=a&device_code=a", false},
		{"malformed body", http.MethodPost, formType, "grant_type=%zz", false},
		{"one byte over the limit", http.MethodPost, formType, "a=" + strings.Repeat("b", rfc6749.MaxTokenRequestBytes-1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			err := rfc6749.CheckTokenRequest(rec, formRequest(tc.method, tc.contentType, tc.body))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, fosite.ErrInvalidRequest)
			require.Equal(t, http.StatusBadRequest, fosite.ErrorToRFC6749Error(err).StatusCode())
		})
	}

	t.Run("the parsed form is what fosite reads", func(t *testing.T) {
		t.Parallel()
		r := formRequest(http.MethodPost, formType, "grant_type=client_credentials&scope=a+b")
		require.NoError(t, rfc6749.CheckTokenRequest(httptest.NewRecorder(), r))
		// fosite's NewAccessRequest calls ParseMultipartForm next and tolerates ErrNotMultipart.
		err := r.ParseMultipartForm(1 << 20)
		require.ErrorIs(t, err, http.ErrNotMultipart)
		require.Equal(t, "a b", r.PostForm.Get("scope"))
	})
}

// TestCheckTokenRequestMultipart: RFC 6749 §3.2 token requests are application/x-www-form-urlencoded.
// A multipart body is not parsed by CheckTokenRequest, so its repeated parameters reach fosite, whose
// NewAccessRequest parses multipart bodies.
func TestCheckTokenRequestMultipart(t *testing.T) {
	t.Parallel()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("grant_type", "client_credentials"))
	require.NoError(t, w.WriteField("client_id", "a"))
	require.NoError(t, w.WriteField("client_id", "b"))
	require.NoError(t, w.Close())
	r := formRequest(http.MethodPost, w.FormDataContentType(), body.String())
	err := rfc6749.CheckTokenRequest(httptest.NewRecorder(), r)
	require.ErrorIs(t, err, fosite.ErrInvalidRequest)
}
