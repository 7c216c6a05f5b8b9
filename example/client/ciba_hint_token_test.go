package main

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/internal/demokeys"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The demo client's login_hint_tokens verify with the server's verifier against the public key the
// server registered for demo-ciba-token, and carry the subject identifier asked for.
func TestSignLoginHintToken(t *testing.T) {
	t.Parallel()
	key, err := demokeys.LoginHintTokenKey()
	require.NoError(t, err)
	store := memory.New()
	require.NoError(t, store.SetClient(context.Background(), &ciba.DefaultClient{DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
		DefaultClient: &fosite.DefaultClient{ID: "demo-ciba-token"},
		JSONWebKeys:   &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: demokeys.LoginHintTokenKeyID, Use: "sig", Algorithm: "ES256"}}},
	}}))
	now := time.Unix(1_800_000_000, 0)
	v := &ciba.LoginHintTokens{Clients: store, Audiences: []string{"http://127.0.0.1:8080"}, Now: func() time.Time { return now }}
	for spec, want := range map[string]ciba.SubjectIdentifier{
		"email:dave@example.com":             {Format: "email", Email: "dave@example.com"},
		"phone_number:+15550100004":          {Format: "phone_number", PhoneNumber: "+15550100004"},
		"opaque:dave":                        {Format: "opaque", ID: "dave"},
		"iss_sub:http://127.0.0.1:8080|dave": {Format: "iss_sub", Iss: "http://127.0.0.1:8080", Sub: "dave"},
	} {
		tok, err := signLoginHintToken("http://127.0.0.1:8080/", spec, now)
		require.NoError(t, err, spec)
		got, err := v.Verify(context.Background(), ciba.Hint{Kind: ciba.HintLoginHintToken, Value: tok, ClientID: "demo-ciba-token"})
		require.NoError(t, err, spec)
		require.Equal(t, want, *got, spec)
	}
	for _, bad := range []string{"dave", "email:", "fax:+1555", "iss_sub:nobody"} {
		_, err := signLoginHintToken("http://127.0.0.1:8080", bad, now)
		require.Error(t, err, bad)
	}
	tok, err := signLoginHintToken("http://127.0.0.1:8080", "opaque:dave", now.Add(-loginHintTokenLifetime-time.Minute))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), ciba.Hint{Kind: ciba.HintLoginHintToken, Value: tok, ClientID: "demo-ciba-token"})
	require.ErrorIs(t, err, ciba.ErrExpiredLoginHintToken)
}
