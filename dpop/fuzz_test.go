package dpop_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
)

// FuzzParseProof feeds the proof parser attacker input (the DPoP header is the client's). Properties:
// it never panics; whatever it refuses is invalid_dpop_proof with a description fit for the wire (RFC
// 6749 §5.2 characters); whatever it accepts is signed with an allowed asymmetric algorithm by a public
// key whose thumbprint is the JKT, and has its required claims.
func FuzzParseProof(f *testing.F) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.EdDSA} {
		p := newProver(f, alg)
		proof := p.proof(http.MethodPost, tokenURL, now)
		f.Add(proof)
		parts := strings.Split(proof, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".e30." + parts[2])
	}
	p := newProver(f, jose.ES256)
	f.Add(p.sign(claims(http.MethodPost, tokenURL, now), map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: p.key}}))
	f.Add(unsigned(f, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": p.jwk}, claims("POST", tokenURL, now), ""))
	f.Add("")
	f.Add("a.b.c")
	f.Add(`{"payload":"e30"}`)

	f.Fuzz(func(t *testing.T, proof string) {
		got, err := dpop.ParseProof(proof, dpop.DefaultAlgorithms)
		if err != nil {
			require.Nil(t, got)
			require.ErrorIs(t, err, dpop.ErrInvalidProof)
			rfc := fosite.ErrorToRFC6749Error(err)
			require.Equal(t, "invalid_dpop_proof", rfc.ErrorField)
			for _, c := range rfc.GetDescription() {
				require.True(t, c >= 0x20 && c <= 0x7e && c != '"' && c != '\\', "description character %q", c)
			}
			return
		}
		require.True(t, got.Key.IsPublic())
		require.Contains(t, dpop.DefaultAlgorithms, got.Algorithm)
		jkt, err := dpop.Thumbprint(got.Key)
		require.NoError(t, err)
		require.Equal(t, jkt, got.JKT)
		require.NotEmpty(t, got.JTI)
		require.LessOrEqual(t, len(got.JTI), dpop.MaxJTILength)
		require.NotEmpty(t, got.Method)
		require.NotEmpty(t, got.URL)
	})
}

// FuzzNormalizeURL: normalising is idempotent, never panics, and keeps no query or fragment.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{tokenURL, "HTTP://A.example:80/%7e/./b/../c?q#f", "http://[::1]:8080", "https://x/%2f%2F", "https://x/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := dpop.NormalizeURL(raw)
		if !ok {
			return
		}
		again, ok := dpop.NormalizeURL(out)
		require.True(t, ok, "%q normalised to %q, which does not normalise", raw, out)
		require.Equal(t, out, again, "from %q", raw)
		require.NotContains(t, out, "?")
		require.NotContains(t, out, "#")
	})
}

// FuzzAccessToken feeds the Authorization header parser of protected resources attacker input.
// Properties: it never panics; it returns a token only with the scheme DPoP or Bearer, and the token is
// one non-empty word.
func FuzzAccessToken(f *testing.F) {
	for _, s := range []string{"DPoP abc", "Bearer abc", "dpop  abc", "Basic dXNlcjpwdw==", "DPoP", "DPoP a b", "Bearer\tx", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r, err := http.NewRequest(http.MethodGet, "https://rs.example/api", nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", header)
		token, scheme := dpop.AccessToken(r)
		if token == "" {
			require.Empty(t, scheme)
			return
		}
		require.Contains(t, []string{"DPoP", "Bearer"}, scheme)
		require.NotContains(t, token, " ")
		require.NotContains(t, token, "\t")
	})
}
