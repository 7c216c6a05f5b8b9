package ciba_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/storage/memory"
)

const lhtIssuer = "https://op.example"

func signLHT(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	require.NoError(t, err)
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := s.Sign(b)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

func lhtFixture(t *testing.T) (*ciba.LoginHintTokens, *ecdsa.PrivateKey, *time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	store := memory.New()
	client := &ciba.DefaultClient{DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{ID: "rp"},
		JSONWebKeys:   &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "ES256"}}},
	}}
	require.NoError(t, store.SetClient(context.Background(), client))
	require.NoError(t, store.SetClient(context.Background(), &fosite.DefaultClient{ID: "keyless"}))
	now := time.Unix(1_800_000_000, 0).UTC()
	return &ciba.LoginHintTokens{Clients: store, Audiences: []string{lhtIssuer, lhtIssuer + "/bc-authorize"}, Now: func() time.Time { return now }}, key, &now
}

func TestLoginHintTokens(t *testing.T) {
	t.Parallel()
	v, key, now := lhtFixture(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	exp := now.Add(5 * time.Minute).Unix()
	claims := func(subID map[string]any, mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": lhtIssuer, "exp": exp, "sub_id": subID}
		if mod != nil {
			mod(c)
		}
		return c
	}
	phone := map[string]any{"format": "phone_number", "phone_number": "+15550100004"}
	for _, tc := range []struct {
		name    string
		client  string
		token   string
		want    *ciba.SubjectIdentifier
		wantErr error
	}{
		{"phone number (RFC 9493)", "rp", signLHT(t, key, jose.ES256, "k1", claims(phone, nil)),
			&ciba.SubjectIdentifier{Format: "phone_number", PhoneNumber: "+15550100004"}, nil},
		{"e-mail, audience in a list", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "email", "email": "dave@example.com"},
			func(c map[string]any) { c["aud"] = []string{"someone-else", lhtIssuer + "/bc-authorize"} })),
			&ciba.SubjectIdentifier{Format: "email", Email: "dave@example.com"}, nil},
		{"opaque", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "opaque", "id": "dave"}, nil)),
			&ciba.SubjectIdentifier{Format: "opaque", ID: "dave"}, nil},
		{"issuer and subject", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "iss_sub", "iss": lhtIssuer, "sub": "dave"}, nil)),
			&ciba.SubjectIdentifier{Format: "iss_sub", Iss: lhtIssuer, Sub: "dave"}, nil},
		{"CIBA Core's example form", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"subject_type": "phone", "phone": "+13302818004"}, nil)),
			&ciba.SubjectIdentifier{Format: "phone_number", PhoneNumber: "+13302818004"}, nil},
		{"expired", "rp", signLHT(t, key, jose.ES256, "k1", claims(phone, func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })),
			nil, ciba.ErrExpiredLoginHintToken},
		{"no exp", "rp", signLHT(t, key, jose.ES256, "k1", claims(phone, func(c map[string]any) { delete(c, "exp") })), nil, ciba.ErrUnknownUserID},
		{"another audience", "rp", signLHT(t, key, jose.ES256, "k1", claims(phone, func(c map[string]any) { c["aud"] = "https://evil.example" })),
			nil, ciba.ErrUnknownUserID},
		{"no audience", "rp", signLHT(t, key, jose.ES256, "k1", claims(phone, func(c map[string]any) { delete(c, "aud") })), nil, ciba.ErrUnknownUserID},
		{"not valid yet", "rp", signLHT(t, key, jose.ES256, "k1", claims(phone, func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })),
			nil, ciba.ErrUnknownUserID},
		{"signed by another key", "rp", signLHT(t, other, jose.ES256, "k1", claims(phone, nil)), nil, ciba.ErrUnknownUserID},
		{"an algorithm not accepted", "rp", signLHT(t, rsaKey, jose.RS256, "k1", claims(phone, nil)), nil, ciba.ErrUnknownUserID},
		{"an HMAC", "rp", signLHT(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, "k1", claims(phone, nil)), nil, ciba.ErrUnknownUserID},
		{"a client without keys", "keyless", signLHT(t, key, jose.ES256, "k1", claims(phone, nil)), nil, ciba.ErrUnknownUserID},
		{"an unknown client", "nobody", signLHT(t, key, jose.ES256, "k1", claims(phone, nil)), nil, ciba.ErrUnknownUserID},
		{"no sub_id", "rp", signLHT(t, key, jose.ES256, "k1", claims(nil, func(c map[string]any) { delete(c, "sub_id") })), nil, ciba.ErrUnknownUserID},
		{"an unknown format", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "did", "url": "did:x"}, nil)), nil, ciba.ErrUnknownUserID},
		{"a format without its member", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "email"}, nil)), nil, ciba.ErrUnknownUserID},
		{"iss_sub without iss", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "iss_sub", "sub": "dave"}, nil)), nil, ciba.ErrUnknownUserID},
		{"a control character", "rp", signLHT(t, key, jose.ES256, "k1", claims(map[string]any{"format": "opaque", "id": "da\u0000ve"}, nil)), nil, ciba.ErrUnknownUserID},
		{"not a JWT", "rp", "not-a-jwt", nil, ciba.ErrUnknownUserID},
		{"unsigned (alg none)", "rp", "eyJhbGciOiJub25lIn0." + strings.TrimRight(jsonB64(t, claims(phone, nil)), "=") + ".", nil, ciba.ErrUnknownUserID},
		{"too large", "rp", strings.Repeat("a", ciba.MaxLoginHintTokenBytes+1), nil, ciba.ErrUnknownUserID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), ciba.Hint{Kind: ciba.HintLoginHintToken, Value: tc.token, ClientID: tc.client})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Equal(t, 400, fosite.ErrorToRFC6749Error(err).CodeField)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err = v.Verify(context.Background(), ciba.Hint{Kind: ciba.HintLoginHint, Value: "dave", ClientID: "rp"})
	require.ErrorIs(t, err, ciba.ErrUnknownUserID, "a login_hint is no token")
}

func jsonB64(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// FuzzLoginHintTokenSubjectIdentifier: whatever a verified token's payload holds, Verify answers a subject
// identifier of a known format with its members, or an RFC 6749 error; nothing panics.
func FuzzLoginHintTokenSubjectIdentifier(f *testing.F) {
	f.Add(`{"format":"email","email":"a@b"}`)
	f.Add(`{"subject_type":"phone","phone":"+1555"}`)
	f.Add(`{"format":"iss_sub","iss":"x","sub":""}`)
	f.Add(`{"format":["email"]}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, subID string) {
		v, key, now := lhtFixture(t)
		var sid any
		if json.Unmarshal([]byte(subID), &sid) != nil {
			return
		}
		tok := signLHT(t, key, jose.ES256, "k1", map[string]any{"aud": lhtIssuer, "exp": now.Add(time.Minute).Unix(), "sub_id": sid})
		got, err := v.Verify(context.Background(), ciba.Hint{Kind: ciba.HintLoginHintToken, Value: tok, ClientID: "rp"})
		if err != nil {
			require.ErrorIs(t, err, ciba.ErrUnknownUserID)
			return
		}
		switch got.Format {
		case ciba.SubIDEmail:
			require.NotEmpty(t, got.Email)
		case ciba.SubIDPhoneNumber:
			require.NotEmpty(t, got.PhoneNumber)
		case ciba.SubIDOpaque:
			require.NotEmpty(t, got.ID)
		case ciba.SubIDIssSub:
			require.NotEmpty(t, got.Iss)
			require.NotEmpty(t, got.Sub)
		default:
			t.Fatalf("format %q", got.Format)
		}
	})
}
