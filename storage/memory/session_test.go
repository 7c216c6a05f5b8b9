package memory

import (
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
)

func fullOpenIDSession() *openid.DefaultSession {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			JTI: "jti", Issuer: "https://issuer", Subject: "alice", Audience: []string{"a", "b"}, Nonce: "n",
			ExpiresAt: now.Add(time.Hour), IssuedAt: now, RequestedAt: now, AuthTime: now.Add(-time.Minute),
			AccessTokenHash: "ath", AuthenticationContextClassReference: "acr", AuthenticationMethodsReferences: []string{"pwd"},
			CodeHash: "ch",
			Extra:    map[string]interface{}{"s": "x", "n": 1.5, "b": true, "nested": map[string]interface{}{"k": []interface{}{"v"}}, "list": []string{"l"}},
		},
		Headers:   &jwt.Headers{Extra: map[string]interface{}{"kid": "key-1"}},
		ExpiresAt: map[fosite.TokenType]time.Time{fosite.AccessToken: now.Add(time.Hour)},
		Username:  "alice", Subject: "alice",
	}
}

// TestCloneSessionMatchesFosite checks that the field-by-field copy gives what fosite's reflective Clone
// gives, for full, empty and partly nil sessions of both of fosite's session types, and that the copy
// shares nothing a caller could change.
func TestCloneSessionMatchesFosite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    fosite.Session
	}{
		{"openid full", fullOpenIDSession()},
		{"openid empty", &openid.DefaultSession{}},
		{"openid empty maps", &openid.DefaultSession{Claims: &jwt.IDTokenClaims{Extra: map[string]interface{}{}, Audience: []string{}}, Headers: &jwt.Headers{}, ExpiresAt: map[fosite.TokenType]time.Time{}}},
		{"openid new", openid.NewDefaultSession()},
		{"fosite full", &fosite.DefaultSession{ExpiresAt: map[fosite.TokenType]time.Time{fosite.RefreshToken: time.Unix(1, 0)}, Username: "u", Subject: "s", Extra: map[string]interface{}{"x": []interface{}{1}}}},
		{"fosite empty", &fosite.DefaultSession{}},
		{"dpop bound", &dpop.OpenIDSession{DefaultSession: *fullOpenIDSession(), JKT: "thumbprint"}},
		{"dpop empty", &dpop.OpenIDSession{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := cloneSession(tc.s)
			require.True(t, reflect.DeepEqual(tc.s.Clone(), got), "clone differs from fosite's Clone")
			require.True(t, reflect.DeepEqual(tc.s, got))
			require.NotSame(t, tc.s, got)
		})
	}

	orig := fullOpenIDSession()
	c := cloneSession(orig).(*openid.DefaultSession)
	c.Claims.Audience[0] = "changed"
	c.Claims.AuthenticationMethodsReferences[0] = "changed"
	c.Claims.Extra["s"] = "changed"
	c.Claims.Extra["nested"].(map[string]interface{})["k"].([]interface{})[0] = "changed"
	c.Claims.Extra["list"].([]string)[0] = "changed"
	c.Claims.Subject = "changed"
	c.Headers.Extra["kid"] = "changed"
	c.SetExpiresAt(fosite.AccessToken, time.Unix(0, 0))
	require.True(t, reflect.DeepEqual(fullOpenIDSession(), orig), "changing the copy changed the original")
}

// TestCloneSessionFields fails when fosite's session types gain or lose fields, so that cloneSession is
// revisited (a new reference field would otherwise be shared between copies).
func TestCloneSessionFields(t *testing.T) {
	t.Parallel()
	fields := func(v interface{}) []string {
		var out []string
		tp := reflect.TypeOf(v)
		for i := 0; i < tp.NumField(); i++ {
			out = append(out, tp.Field(i).Name)
		}
		return out
	}
	require.Equal(t, []string{"Claims", "Headers", "ExpiresAt", "Username", "Subject"}, fields(openid.DefaultSession{}))
	require.Equal(t, []string{"JTI", "Issuer", "Subject", "Audience", "Nonce", "ExpiresAt", "IssuedAt", "RequestedAt",
		"AuthTime", "AccessTokenHash", "AuthenticationContextClassReference", "AuthenticationMethodsReferences", "CodeHash", "Extra"},
		fields(jwt.IDTokenClaims{}))
	require.Equal(t, []string{"Extra"}, fields(jwt.Headers{}))
	require.Equal(t, []string{"ExpiresAt", "Username", "Subject", "Extra"}, fields(fosite.DefaultSession{}))
}
