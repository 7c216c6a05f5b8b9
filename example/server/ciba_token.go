package server

import (
	"context"
	"crypto/ecdsa"
	"strings"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/example/internal/demokeys"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The example's CIBA hints and user codes (seed 003's own example request uses login_hint_token):
//
//   - demo-ciba-token (poll, secret demo-ciba-secret, client_secret_basic) registered a public key
//     (DEMO: derived from a published phrase, see example/internal/demokeys) and may name the user
//     with a login_hint_token: a JWT it signs with that key, carrying an RFC 9493 subject identifier
//     (email, phone_number, opaque, iss_sub), for this server (aud) and expiring (exp);
//   - login_hint, login_hint_token and id_token_hint all resolve through one directory: user name,
//     e-mail address, phone number, account number (demoSubjectOf);
//   - demo-ciba-code (poll, same secret) registered backchannel_user_code_parameter: its requests carry
//     the user's CIBA user code (CIBA Core §7.1), which the user sets on /account.

// The demo clients of this file.
const (
	demoCIBATokenClient = "demo-ciba-token"
	demoCIBACodeClient  = "demo-ciba-code"
)

// DEMO: phone numbers of the demo users (dave's is his authentication device; alice's and bob's are the
// OTP demo's).
var demoPhones = map[string]string{"alice": "+15551234567", "bob": "+15557654321", "dave": demoDavePhone}

// DemoLoginHintTokenKey returns the key demo-ciba-token signs login_hint_tokens with. DEMO: published.
func DemoLoginHintTokenKey() (*ecdsa.PrivateKey, string, error) {
	k, err := demokeys.LoginHintTokenKey()
	return k, demokeys.LoginHintTokenKeyID, err
}

// demoSubjectOf finds the demo user an identifier names: a user name, an e-mail address, a phone number
// or an account number, in any letter case and (phone numbers) punctuation; "" when none.
func demoSubjectOf(identifier string) string {
	v := strings.TrimSpace(identifier)
	if v == "" {
		return ""
	}
	phone, isPhone := smschannel.NormalizePhone(v)
	for subject, u := range demoUsers {
		if strings.EqualFold(v, u.Subject) || strings.EqualFold(v, u.Email) || strings.EqualFold(v, demoAccountNumbers[subject]) ||
			(isPhone && phone == demoPhones[subject]) {
			return subject
		}
	}
	return ""
}

// subjectOfIdentifier finds the demo user a login_hint_token's subject identifier names (RFC 9493).
func (s *Server) subjectOfIdentifier(id *ciba.SubjectIdentifier) string {
	var subject string
	switch id.Format {
	case ciba.SubIDEmail:
		subject = demoSubjectOf(id.Email)
		if !strings.Contains(id.Email, "@") {
			subject = ""
		}
	case ciba.SubIDPhoneNumber:
		if p, ok := smschannel.NormalizePhone(id.PhoneNumber); ok {
			subject = demoSubjectOf(p)
		}
	case ciba.SubIDOpaque:
		if _, ok := demoUsers[id.ID]; ok {
			subject = id.ID
		}
	case ciba.SubIDIssSub:
		if _, ok := demoUsers[id.Sub]; ok && id.Iss == s.opts.Issuer {
			subject = id.Sub
		}
	}
	return subject
}

// newLoginHintTokens is the login_hint_token verifier: keys of the sending client, this server as the
// audience.
func (s *Server) newLoginHintTokens() *ciba.LoginHintTokens {
	return &ciba.LoginHintTokens{
		Clients: s.store, Audiences: []string{s.opts.Issuer, s.opts.Issuer + "/oauth2/bc-authorize"},
		JWKSFetcher: s.fosite.JWKSFetcherStrategy, Now: s.opts.Now,
	}
}

// newUserCodes is the CIBA user-code checker over the store (DEMO: or beside a store without codes).
func (s *Server) newUserCodes() *ciba.UserCodes {
	st, ok := s.store.(ciba.UserCodeStorage)
	if !ok {
		st = &memory.CIBAUserCodeStore{}
	}
	u, err := ciba.NewUserCodes(st, s.store, s.fosite, ciba.DefaultUserCodeCheckLimits, s.opts.Now)
	if err != nil {
		panic(err) // every argument is set
	}
	return u
}

// setupCIBAHintClients registers demo-ciba-token and demo-ciba-code.
func (s *Server) setupCIBAHintClients(ctx context.Context) error {
	hash, err := demoCIBAHash()
	if err != nil {
		return err
	}
	key, kid, err := DemoLoginHintTokenKey()
	if err != nil {
		return err
	}
	pub := &key.PublicKey
	token := &ciba.DefaultClient{
		DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{ID: demoCIBATokenClient, Secret: hash, Scopes: demoScopes,
				GrantTypes: []string{string(ciba.GrantType), "refresh_token"}},
			TokenEndpointAuthMethod: "client_secret_basic",
			JSONWebKeys:             &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Algorithm: "ES256", Use: "sig"}}},
		},
		Name: "Demo CIBA app (login_hint_token)", BackchannelTokenDeliveryMode: ciba.ModePoll,
	}
	code := &metadataClient{
		DefaultClient: &fosite.DefaultClient{ID: demoCIBACodeClient, Secret: hash, Scopes: demoScopes,
			GrantTypes: []string{string(ciba.GrantType), "refresh_token"}},
		metadata: map[string]any{
			ciba.MetaClientName: "Demo CIBA app (user code)", ciba.MetaTokenDeliveryMode: string(ciba.ModePoll),
			ciba.MetaUserCodeParameter: true,
		},
	}
	for _, c := range []fosite.Client{token, code} {
		if err := s.store.SetClient(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
