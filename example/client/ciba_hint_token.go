package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/fosite-contrib/grants/example/internal/demokeys"
)

// The demo client's login_hint_token (CIBA Core §7.1): a JWT the client signs with the key it registered
// (demo-ciba-token's DEMO key), naming the user with an RFC 9493 subject identifier, for the server
// (aud = its issuer) and valid for five minutes (exp).

// loginHintTokenLifetime is how long the demo's login_hint_tokens are valid.
const loginHintTokenLifetime = 5 * time.Minute

// subjectIdentifier parses -login-hint-token's "format:value": email:dave@example.com,
// phone_number:+15550100004, opaque:dave, or iss_sub:<issuer>|<subject>.
func subjectIdentifier(spec string) (map[string]string, error) {
	format, value, ok := strings.Cut(spec, ":")
	if !ok || value == "" {
		return nil, fmt.Errorf("want format:value, such as email:dave@example.com or phone_number:+15550100004")
	}
	switch format {
	case "email", "phone_number":
		return map[string]string{"format": format, format: value}, nil
	case "opaque":
		return map[string]string{"format": format, "id": value}, nil
	case "iss_sub":
		iss, sub, ok := strings.Cut(value, "|")
		if !ok || iss == "" || sub == "" {
			return nil, fmt.Errorf("iss_sub wants iss_sub:<issuer>|<subject>")
		}
		return map[string]string{"format": format, "iss": iss, "sub": sub}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want email, phone_number, opaque or iss_sub)", format)
}

// signLoginHintToken signs a login_hint_token for issuer naming the user of spec, valid from now.
func signLoginHintToken(issuer, spec string, now time.Time) (string, error) {
	id, err := subjectIdentifier(spec)
	if err != nil {
		return "", err
	}
	key, err := demokeys.LoginHintTokenKey()
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", demokeys.LoginHintTokenKeyID))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(map[string]any{
		"sub_id": id, "aud": strings.TrimSuffix(issuer, "/"), "iat": now.Unix(), "exp": now.Add(loginHintTokenLifetime).Unix(),
	})
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
