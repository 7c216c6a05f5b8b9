package smschannel_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

// twilioStyle builds the signed string by hand, as the providers' documentation describes it, to check
// Signer against an independent construction.
func twilioStyle(key, rawURL string, pairs ...string) string {
	m := hmac.New(sha1.New, []byte(key))
	s := rawURL
	for i := 0; i < len(pairs); i += 2 {
		s += pairs[i] + pairs[i+1]
	}
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignerMatchesTheProvidersConstruction(t *testing.T) {
	t.Parallel()
	key := "0123456789abcdef0123456789abcdef"
	form := url.Values{"To": {"+15550009999"}, "From": {"+15550100004"}, "Body": {"YES 4821"}, "MessageSid": {"SM123"}}
	s := smschannel.Signer{Key: []byte(key)}
	u := "https://id.example.com/ciba/sms/inbound?tenant=a"
	want := twilioStyle(key, u, "Body", "YES 4821", "From", "+15550100004", "MessageSid", "SM123", "To", "+15550009999")
	require.Equal(t, want, s.Sign(u, form))
	require.True(t, s.Verify(u, form, want))

	s256 := smschannel.Signer{Key: []byte(key), Hash: sha256.New}
	require.NotEqual(t, want, s256.Sign(u, form))
	require.True(t, s256.Verify(u, form, s256.Sign(u, form)))
}

func TestSignerVerify(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	s := smschannel.Signer{Key: key}
	u := "https://id.example.com/ciba/sms/inbound"
	form := url.Values{"From": {"+15550100004"}, "Body": {"YES 4821"}}
	good := s.Sign(u, form)
	for _, tc := range []struct {
		name string
		s    smschannel.Signer
		url  string
		form url.Values
		sig  string
		want bool
	}{
		{"as signed", s, u, form, good, true},
		{"another key", smschannel.Signer{Key: []byte("fedcba9876543210fedcba9876543210")}, u, form, good, false},
		{"a key too short, even the right one", smschannel.Signer{Key: key[:15]}, u, form, smschannel.Signer{Key: key[:15]}.Sign(u, form), false},
		{"another URL", s, u + "/x", form, good, false},
		{"a changed body", s, u, url.Values{"From": {"+15550100004"}, "Body": {"YES 4822"}}, good, false},
		{"another sender", s, u, url.Values{"From": {"+15550100005"}, "Body": {"YES 4821"}}, good, false},
		{"a parameter added", s, u, url.Values{"From": {"+15550100004"}, "Body": {"YES 4821"}, "X": {""}}, good, false},
		{"a parameter moved into another's value", s, u, url.Values{"From": {"+15550100004Body"}, "": {"YES 4821"}}, good, false},
		{"no signature", s, u, form, "", false},
		{"not base64", s, u, form, "%%%", false},
		{"truncated", s, u, form, good[:10], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.s.Verify(tc.url, tc.form, tc.sig))
		})
	}
}
