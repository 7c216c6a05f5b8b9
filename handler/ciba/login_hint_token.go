package ciba

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/internal/clock"
)

// This file reads the login_hint_token of CIBA Core §7.1 as a JWT signed with a key the client
// registered, carrying a Subject Identifier (RFC 9493) that names the user, as the seed's own example
// request does:
//
//	{"sub_id": {"format": "phone_number", "phone_number": "+13302818004"}, "aud": "https://op.example", "exp": 1700000600}
//
// CIBA Core leaves the token's format to the deployment; this is one, with the checks that make it
// safe: the signature (an asymmetric algorithm, a key of the client's jwks or jwks_uri), the audience
// (this server), and the expiry. A HintResolver calls LoginHintTokens.Verify and resolves the subject
// identifier through the same directory as a login_hint.

// The Subject Identifier formats of RFC 9493 §3.2 that LoginHintTokens reads.
const (
	SubIDEmail       = "email"        // member "email"
	SubIDPhoneNumber = "phone_number" // member "phone_number" (E.164)
	SubIDOpaque      = "opaque"       // member "id"
	SubIDIssSub      = "iss_sub"      // members "iss" and "sub"
)

// SubjectIdentifier is the user a login_hint_token names (RFC 9493 §3): its Format and the members of
// that format.
type SubjectIdentifier struct {
	Format      string
	Email       string
	PhoneNumber string
	ID          string
	Iss, Sub    string
}

// Limits of LoginHintTokens.
const (
	// MaxLoginHintTokenBytes bounds a login_hint_token before it is parsed.
	MaxLoginHintTokenBytes = 8 << 10
	// loginHintTokenLeeway tolerates small clock differences between the client and the server.
	loginHintTokenLeeway = 10 * time.Second
)

// LoginHintTokens verifies login_hint_tokens. Safe for concurrent use.
type LoginHintTokens struct {
	// Clients finds the client that sent the hint (its registered keys). Required.
	Clients fosite.ClientManager
	// Audiences are the values one of which the token's aud must hold: this server's issuer, and the
	// backchannel authentication endpoint's URL. Required.
	Audiences []string
	// Algorithms are the JWS algorithms accepted; asymmetric ones only. nil means
	// DefaultRequestSigningAlgs.
	Algorithms []string
	// JWKSFetcher fetches the keys of clients that registered a jwks_uri; nil accepts only clients that
	// registered their keys inline (jwks). Give fosite's configured strategy.
	JWKSFetcher fosite.JWKSFetcherStrategy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks the login_hint_token of hint (Kind HintLoginHintToken) and returns the subject
// identifier it carries. Errors: ErrExpiredLoginHintToken when it has expired (CIBA Core §13);
// ErrUnknownUserID, with a hint saying why, when it is malformed, not signed by a key of the client,
// signed with an algorithm not accepted, for another audience, without exp, or without a subject
// identifier of a format listed above; anything else is a server error (the client could not be read).
func (v *LoginHintTokens) Verify(ctx context.Context, hint Hint) (*SubjectIdentifier, error) {
	if hint.Kind != HintLoginHintToken {
		return nil, ErrUnknownUserID.WithHint("The hint is not a login_hint_token.")
	}
	if len(hint.Value) > MaxLoginHintTokenBytes {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token is too large.")
	}
	client, err := v.Clients.GetClient(ctx, hint.ClientID)
	if err != nil {
		if errors.Is(err, fosite.ErrNotFound) {
			return nil, ErrUnknownUserID.WithHint("The login_hint_token's client is unknown.")
		}
		return nil, err
	}
	algs := v.Algorithms
	if algs == nil {
		algs = DefaultRequestSigningAlgs
	}
	jws, alg, err := parseSignedRequest(hint.Value, algs, "")
	if err != nil {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token is not a JWT signed with an accepted algorithm.")
	}
	payload, err := verifyWithClientKeys(ctx, v.JWKSFetcher, client, jws, alg)
	if err != nil {
		if e := fosite.ErrorToRFC6749Error(err); e.CodeField >= 500 {
			return nil, err
		}
		return nil, ErrUnknownUserID.WithHint("The login_hint_token's signature does not verify with the client's keys.")
	}
	return v.claims(payload)
}

// claims checks the verified payload and reads its subject identifier.
func (v *LoginHintTokens) claims(payload []byte) (*SubjectIdentifier, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var c map[string]interface{}
	if err := dec.Decode(&c); err != nil || c == nil || dec.More() {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token's payload is not a JSON object.")
	}
	aud := false
	for _, a := range v.Audiences {
		if a != "" && audienceHas(c["aud"], a) {
			aud = true
		}
	}
	if !aud {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token's 'aud' claim must name this server.")
	}
	exp, ok := numericDate(c["exp"])
	if !ok {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token's 'exp' claim is missing or not a number.")
	}
	now := clock.Now(v.Now)
	if !now.Before(exp.Add(loginHintTokenLeeway)) {
		return nil, ErrExpiredLoginHintToken
	}
	if nbf, ok := numericDate(c["nbf"]); ok && nbf.After(now.Add(loginHintTokenLeeway)) {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token is not valid yet.")
	}
	id, ok := c["sub_id"].(map[string]interface{})
	if !ok {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token has no 'sub_id' claim (RFC 9493).")
	}
	sid, err := parseSubjectIdentifier(id)
	if err != nil {
		return nil, err
	}
	return sid, nil
}

// parseSubjectIdentifier reads an RFC 9493 Subject Identifier. It also reads the form of the drafts
// CIBA Core's example follows ("subject_type": "phone", "phone": ...).
func parseSubjectIdentifier(id map[string]interface{}) (*SubjectIdentifier, error) {
	str := func(name string) string {
		s, _ := id[name].(string)
		return strings.TrimSpace(s)
	}
	format := str("format")
	if format == "" {
		switch str("subject_type") {
		case "phone":
			format, id["phone_number"] = SubIDPhoneNumber, id["phone"]
		case "email", "iss_sub", "opaque":
			format = str("subject_type")
		}
	}
	s := &SubjectIdentifier{Format: format}
	switch format {
	case SubIDEmail:
		s.Email = str("email")
	case SubIDPhoneNumber:
		s.PhoneNumber = str("phone_number")
	case SubIDOpaque:
		s.ID = str("id")
	case SubIDIssSub:
		s.Iss, s.Sub = str("iss"), str("sub")
	default:
		return nil, ErrUnknownUserID.WithHint("The login_hint_token's subject identifier format is not supported (email, phone_number, opaque, iss_sub).")
	}
	if s.Email+s.PhoneNumber+s.ID+s.Sub == "" || (format == SubIDIssSub && s.Iss == "") {
		return nil, ErrUnknownUserID.WithHint("The login_hint_token's subject identifier lacks the members of its format.")
	}
	for _, v := range []string{s.Email, s.PhoneNumber, s.ID, s.Iss, s.Sub} {
		if len(v) > 256 || !printable(v) {
			return nil, ErrUnknownUserID.WithHint("The login_hint_token's subject identifier is not valid text.")
		}
	}
	return s, nil
}
