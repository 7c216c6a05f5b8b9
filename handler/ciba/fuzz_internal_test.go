package ciba

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ory/fosite"
)

// FuzzNotificationToken: whatever is accepted has the RFC 6750 b64token syntax and the length bound.
func FuzzNotificationToken(f *testing.F) {
	for _, s := range []string{"abc", "a=", "=", "a b", "8d67dc78-7faa-4d41-aabd-67707b374255", "a/b+c~d==", strings.Repeat("a", 1025)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validNotificationToken(s) {
			return
		}
		if len(s) > MaxClientNotificationToken || s == "" || s[0] == '=' {
			t.Fatalf("accepted %q", s)
		}
		trimmed := strings.TrimRight(s, "=")
		for i := 0; i < len(trimmed); i++ {
			c := trimmed[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
				t.Fatalf("accepted %q with %q", s, c)
			}
		}
	})
}

// FuzzBindingMessage: an accepted message is valid UTF-8, within the limit, without control
// characters; a refused one is refused with invalid_binding_message.
func FuzzBindingMessage(f *testing.F) {
	for _, s := range []string{"1234", "W4SCT", "pay\n1000", "caf\xe9", "Überweisung", "\u202e", " ", strings.Repeat("x", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkBindingMessage(s, 64)
		if err != nil {
			if !errors.Is(err, ErrInvalidBindingMessage) {
				t.Fatalf("refused %q with %v", s, err)
			}
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 64 || strings.ContainsAny(s, "\n\r\t\x00") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzRequestedExpiry: accepted values are positive integers that fit the bound, read the same from a
// string and from a JSON number.
func FuzzRequestedExpiry(f *testing.F) {
	for _, s := range []string{"1", "10", "0", "-1", "1.5", "+5", "99999999999", " 5", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseRequestedExpiry(s)
		if err != nil {
			if !errors.Is(err, fosite.ErrInvalidRequest) {
				t.Fatalf("refused %q with %v", s, err)
			}
			return
		}
		if n <= 0 || n > 1<<31-1 {
			t.Fatalf("accepted %q as %d", s, n)
		}
		m, err := parseRequestedExpiry(json.Number(s))
		if err != nil || m != n {
			t.Fatalf("%q: as a JSON number %d, %v", s, m, err)
		}
	})
}

// FuzzRequestObjectClaims: the claim checks never panic, and what they accept names the issuer and the
// client and lies within the time windows.
func FuzzRequestObjectClaims(f *testing.F) {
	now := time.Unix(1_800_000_000, 0).UTC()
	f.Add(`{"iss":"c","aud":"https://op","exp":1800000300,"iat":1800000000,"nbf":1800000000,"jti":"j"}`)
	f.Add(`{"iss":"c","aud":["x","https://op"],"exp":1800000300,"iat":1,"nbf":1800000000,"jti":"j"}`)
	f.Add(`{"iss":"c","aud":"https://op","exp":1e400,"iat":1,"nbf":1,"jti":"j"}`)
	f.Add(`[]`)
	f.Add(`{"iss":"c"} {}`)
	f.Fuzz(func(t *testing.T, payload string) {
		claims, err := requestObjectClaims([]byte(payload), "https://op", "c", now)
		if err != nil {
			if !errors.Is(err, fosite.ErrInvalidRequest) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if claims["iss"] != "c" || !audienceHas(claims["aud"], "https://op") {
			t.Fatalf("accepted %s", payload)
		}
		exp, _ := numericDate(claims["exp"])
		nbf, _ := numericDate(claims["nbf"])
		if exp.Before(now.Add(-requestObjectLeeway)) || exp.After(now.Add(maxRequestObjectLifetime+requestObjectLeeway)) ||
			nbf.After(now.Add(requestObjectLeeway)) || nbf.Before(now.Add(-maxRequestObjectAge-requestObjectLeeway)) {
			t.Fatalf("accepted out-of-window %s", payload)
		}
	})
}

// FuzzSignedRequestAndIDTokenHint: parsing attacker JWTs never panics; only the allowed asymmetric
// algorithms pass; an ID token hint never verifies without the server's signature.
func FuzzSignedRequestAndIDTokenHint(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	v := &KeyIDTokenHintVerifier{Issuer: "https://op", Key: func(context.Context) (interface{}, error) { return key, nil }}
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
	f.Add("a.b.c")
	f.Add("....")
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		jws, alg, err := parseSignedRequest(raw, []string{"ES256", "PS256", "HS256"}, "")
		if err == nil {
			if alg != "ES256" && alg != "PS256" {
				t.Fatalf("accepted algorithm %q", alg)
			}
			if jws == nil {
				t.Fatal("no JWS")
			}
		}
		if sub, err := v.VerifyIDTokenHint(context.Background(), raw, "client"); err == nil {
			t.Fatalf("a fuzzed token verified (sub %q)", sub)
		}
	})
}
