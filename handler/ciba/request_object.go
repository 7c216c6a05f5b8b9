package ciba

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// DefaultRequestSigningAlgs are the JWS algorithms accepted for signed requests when none are
// configured: those FAPI-CIBA allows.
var DefaultRequestSigningAlgs = []string{"PS256", "ES256"}

// asymmetricAlgs are the algorithms a signed request may ever use (CIBA Core §7.1.1: asymmetric; never
// none, never HMAC), whatever is configured.
var asymmetricAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// IsAsymmetricAlg reports whether alg is an asymmetric JWS algorithm this package can verify.
func IsAsymmetricAlg(alg string) bool { return asymmetricAlgs[alg] }

// Windows for signed requests, as the OpenID conformance suite checks them (CIBA Core §7.1.1 and
// FAPI-CIBA §5.2.2): exp at most 60 minutes ahead, nbf at most 60 minutes back and not in the future.
const (
	maxRequestObjectLifetime = 60 * time.Minute
	maxRequestObjectAge      = 60 * time.Minute
	// requestObjectLeeway tolerates small clock differences between client and server.
	requestObjectLeeway = 10 * time.Second
	// maxRequestObjectBytes bounds the JWT before it is parsed.
	maxRequestObjectBytes = 32 << 10
)

// requestObjectClaims decodes and checks the payload of a signed request, after its signature was
// verified: aud names issuer, iss is clientID, exp/iat/nbf/jti present and within the windows (CIBA
// Core §7.1.1). It returns all claims (numbers as json.Number).
func requestObjectClaims(payload []byte, issuer, clientID string, now time.Time) (map[string]interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]interface{}
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's payload is not a JSON object.")
	}
	if dec.More() {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's payload is not a JSON object.")
	}
	if !audienceHas(claims["aud"], issuer) || issuer == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'aud' claim must contain the issuer.")
	}
	if iss, _ := claims["iss"].(string); iss == "" || iss != clientID {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'iss' claim must be the client ID.")
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'jti' claim is missing.")
	}
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'exp' claim is missing or not a number.")
	}
	if !now.Before(exp.Add(requestObjectLeeway)) {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object has expired.")
	}
	if exp.Sub(now) > maxRequestObjectLifetime+requestObjectLeeway {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'exp' claim is more than 60 minutes in the future.")
	}
	if _, ok := numericDate(claims["iat"]); !ok {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'iat' claim is missing or not a number.")
	}
	nbf, ok := numericDate(claims["nbf"])
	if !ok {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'nbf' claim is missing or not a number.")
	}
	if nbf.After(now.Add(requestObjectLeeway)) {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object is not valid yet ('nbf' is in the future).")
	}
	if now.Sub(nbf) > maxRequestObjectAge+requestObjectLeeway {
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's 'nbf' claim is more than 60 minutes in the past.")
	}
	return claims, nil
}

func audienceHas(aud interface{}, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []interface{}:
		for _, v := range a {
			if s, ok := v.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

func numericDate(v interface{}) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// parseSignedRequest parses a signed request's JWS (compact serialisation only) and checks its
// algorithm against allowed and, when the client registered one, the client's algorithm.
func parseSignedRequest(raw string, allowed []string, registered string) (*jose.JSONWebSignature, string, error) {
	if len(raw) > maxRequestObjectBytes {
		return nil, "", fosite.ErrInvalidRequest.WithHint("The request object is too large.")
	}
	if strings.Count(raw, ".") != 2 {
		return nil, "", fosite.ErrInvalidRequest.WithHint("The request object is not a signed JWT in compact serialisation.")
	}
	jws, err := jose.ParseSigned(raw)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", fosite.ErrInvalidRequest.WithHint("The request object is not a signed JWT.")
	}
	alg := jws.Signatures[0].Header.Algorithm
	ok := false
	for _, a := range allowed {
		if a == alg && IsAsymmetricAlg(a) {
			ok = true
		}
	}
	if !ok {
		return nil, "", fosite.ErrInvalidRequest.WithHintf("The request object's signing algorithm '%s' is not accepted.", alg)
	}
	if registered != "" && registered != alg {
		return nil, "", fosite.ErrInvalidRequest.WithHintf("The request object must be signed with the client's registered algorithm '%s'.", registered)
	}
	return jws, alg, nil
}

// verifyWithClientKeys verifies jws with the client's registered keys: its JWKS, or the one at its
// jwks_uri (fetched through fosite's JWKSFetcherStrategy, refreshed once when no key matches).
func verifyWithClientKeys(ctx context.Context, fetcher fosite.JWKSFetcherStrategy, client fosite.Client, jws *jose.JSONWebSignature, alg string) ([]byte, error) {
	oc, ok := client.(fosite.OpenIDConnectClient)
	if !ok {
		return nil, fosite.ErrInvalidRequest.WithHint("The client has no registered keys to verify a request object with.")
	}
	kid := jws.Signatures[0].Header.KeyID
	if set := oc.GetJSONWebKeys(); set != nil {
		if p, ok := verifyWithSet(jws, set, kid, alg); ok {
			return p, nil
		}
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's signature does not verify with the client's keys.")
	}
	if uri := oc.GetJSONWebKeysURI(); uri != "" && fetcher != nil {
		for _, refresh := range []bool{false, true} {
			set, err := fetcher.Resolve(ctx, uri, refresh)
			if err != nil {
				return nil, fosite.ErrInvalidRequest.WithHint("The client's keys could not be fetched.").WithWrap(err).WithDebug(err.Error())
			}
			if p, ok := verifyWithSet(jws, set, kid, alg); ok {
				return p, nil
			}
		}
		return nil, fosite.ErrInvalidRequest.WithHint("The request object's signature does not verify with the client's keys.")
	}
	return nil, fosite.ErrInvalidRequest.WithHint("The client has no registered keys to verify a request object with.")
}

func verifyWithSet(jws *jose.JSONWebSignature, set *jose.JSONWebKeySet, kid, alg string) ([]byte, bool) {
	keys := set.Keys
	if kid != "" {
		keys = set.Key(kid)
	}
	for _, k := range keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if !keyFitsAlg(k.Key, alg) {
			continue
		}
		if p, err := jws.Verify(k.Public().Key); err == nil {
			return p, true
		}
	}
	return nil, false
}

func keyFitsAlg(key interface{}, alg string) bool {
	switch key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey, *ecdsa.PrivateKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey, ed25519.PrivateKey:
		return alg == "EdDSA"
	}
	return false
}
