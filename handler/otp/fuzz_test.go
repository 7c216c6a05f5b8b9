package otp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/otp"
)

// FuzzNormalizeCode: whatever a person types, normalisation never panics, returns only ASCII digits
// (at most 16), and accepts exactly the inputs made of digits and the separators people type.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "123-456", " 1.2.3.4.5.6 ", "12345a", "１２３４５６", "", "-", "99999999999999999", "\x00123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, ok := otp.NormalizeCode(in)
		if !ok {
			require.Empty(t, code)
			return
		}
		require.NotEmpty(t, code)
		require.LessOrEqual(t, len(code), 16)
		for i := 0; i < len(code); i++ {
			require.True(t, code[i] >= '0' && code[i] <= '9', "non-digit in %q", code)
		}
		stripped := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" -.\t", r) {
				return -1
			}
			return r
		}, in)
		require.Equal(t, stripped, code, "only separators are dropped")
	})
}

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{"123 456", "123456", true},
		{"12-34-56", "123456", true},
		{"\t123.456 ", "123456", true},
		{"12345a", "", false},
		{"１２３４５６", "", false},
		{"", "", false},
		{" - ", "", false},
		{strings.Repeat("1", 17), "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := otp.NormalizeCode(tc.in)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

// FuzzChallengeEndpoint: any body, from an authenticated client, gets a 200 or a 4xx with an RFC 6749
// error, never a 5xx or a panic; and nothing is sent unless the request was a valid send.
func FuzzChallengeEndpoint(f *testing.F) {
	for _, s := range []string{
		"login_hint=1+Main+St&scope=usage%3Aread",
		"login_hint=1+Main+St&channel_hint=sms",
		"login_hint=nobody&channel_hint=email-1",
		"oob_code=abc.def&channel=sms-1",
		"login_hint=%FF%FE",
		"login_hint=a&login_hint=b",
		"scope=%00&login_hint=x",
		"ui_locales=..%2F..%2Fetc&login_hint=1+Main+St&channel_hint=sms",
		"login_hint=" + strings.Repeat("x", 300),
		"channel=sms-1",
		"%",
	} {
		f.Add(s)
	}
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/otp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(kioskID, url.QueryEscape(kioskSecret))
		rw := httptest.NewRecorder()
		fx.grant.Challenge.ServeHTTP(rw, r.WithContext(context.Background()))
		require.Less(t, rw.Code, 500, "body %q → %s", body, rw.Body)
		if rw.Code != http.StatusOK {
			require.Contains(t, rw.Body.String(), `"error"`)
		}
	})
}
