package ciba

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"strings"

	jose "github.com/go-jose/go-jose/v3"
)

// KeyIDTokenHintVerifier is an IDTokenHintVerifier that checks an id_token_hint with this server's ID
// token signing key (CIBA Core §7.1): the signature, the issuer, and that the client is an audience.
// Expiry is not checked: an ID token hint may have expired (OIDC Core §3.1.2.1).
type KeyIDTokenHintVerifier struct {
	// Issuer is this server's issuer identifier (the iss of its ID tokens).
	Issuer string
	// Key returns the signing key (a private key, its public key, or a *jose.JSONWebKey), as fosite's
	// jwt.DefaultSigner.GetPrivateKey does.
	Key func(ctx context.Context) (interface{}, error)
}

var _ IDTokenHintVerifier = (*KeyIDTokenHintVerifier)(nil)

// VerifyIDTokenHint implements IDTokenHintVerifier.
func (v *KeyIDTokenHintVerifier) VerifyIDTokenHint(ctx context.Context, token, clientID string) (string, error) {
	if len(token) > maxRequestObjectBytes || strings.Count(token, ".") != 2 {
		return "", ErrUnknownUserID.WithHint("The id_token_hint is not a signed JWT.")
	}
	jws, err := jose.ParseSigned(token)
	if err != nil || len(jws.Signatures) != 1 {
		return "", ErrUnknownUserID.WithHint("The id_token_hint is not a signed JWT.")
	}
	if !IsAsymmetricAlg(jws.Signatures[0].Header.Algorithm) {
		return "", ErrUnknownUserID.WithHint("The id_token_hint is not signed by this server.")
	}
	key, err := v.Key(ctx)
	if err != nil {
		return "", err
	}
	pub := publicKeyOf(key)
	if pub == nil {
		return "", ErrUnknownUserID.WithDebug("The ID token signing key has an unknown type.")
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return "", ErrUnknownUserID.WithHint("The id_token_hint is not signed by this server.")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]interface{}
	if err := dec.Decode(&claims); err != nil {
		return "", ErrUnknownUserID.WithHint("The id_token_hint's payload is not a JSON object.")
	}
	if iss, _ := claims["iss"].(string); iss != v.Issuer || iss == "" {
		return "", ErrUnknownUserID.WithHint("The id_token_hint was not issued by this server.")
	}
	if !audienceHas(claims["aud"], clientID) {
		return "", ErrUnknownUserID.WithHint("The id_token_hint was not issued to this client.")
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return "", ErrUnknownUserID.WithHint("The id_token_hint has no subject.")
	}
	return sub, nil
}

func publicKeyOf(key interface{}) interface{} {
	switch k := key.(type) {
	case *jose.JSONWebKey:
		return publicKeyOf(k.Key)
	case jose.JSONWebKey:
		return publicKeyOf(k.Key)
	case jose.OpaqueSigner:
		return k.Public().Key
	case crypto.Signer:
		return k.Public()
	case crypto.PublicKey:
		return k
	}
	return nil
}
