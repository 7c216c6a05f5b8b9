package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
)

// pkjwtClient is a device client with its own P-256 key that authenticates with private_key_jwt (RFC
// 7523 §2.2), as the kiosk-onboarded phones of seed 001 do: every request carries a new signed
// assertion, which the server verifies (ES256) and whose jti it records.
type pkjwtClient struct {
	id     string
	signer jose.Signer
	pub    jose.JSONWebKey
}

func newPKJWTClient() (*pkjwtClient, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		return nil, err
	}
	return &pkjwtClient{signer: signer, pub: jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Use: "sig"}}, nil
}

// metadata is the client's registration request (RFC 7591 §2).
func (c *pkjwtClient) metadata() []byte {
	b, _ := json.Marshal(map[string]any{
		"grant_types":                []string{"urn:ietf:params:oauth:grant-type:device_code"},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       jose.JSONWebKeySet{Keys: []jose.JSONWebKey{c.pub}},
		"scope":                      "openid",
	})
	return b
}

// form returns client authentication parameters with a new assertion for aud (the token endpoint).
func (c *pkjwtClient) form(aud string) (url.Values, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	now := time.Now()
	raw, err := jwt.Signed(c.signer).Claims(jwt.Claims{
		Issuer: c.id, Subject: c.id, Audience: jwt.Audience{aud}, ID: hex.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}).CompactSerialize()
	if err != nil {
		return nil, err
	}
	return url.Values{"client_id": {c.id}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {raw}}, nil
}

// registerPKJWT registers a new private_key_jwt device client at the example server's registration
// endpoint (the admin token is its initial access token).
func (s *server) registerPKJWT(c *http.Client) (*pkjwtClient, error) {
	pc, err := newPKJWTClient()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, s.endpoint("registration_endpoint"), bytes.NewReader(pc.metadata()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", s.approveAuth)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if pc.id, _ = m["client_id"].(string); resp.StatusCode != http.StatusCreated || pc.id == "" {
		return nil, fmt.Errorf("register a private_key_jwt client: %s %s", resp.Status, b)
	}
	return pc, nil
}

// pkjwtPollBodies registers a client, gets a device code with it and returns n token requests for that
// code, each with its own assertion.
func (s *server) pkjwtPollBodies(c *http.Client, n int) ([][]byte, error) {
	pc, err := s.registerPKJWT(c)
	if err != nil {
		return nil, err
	}
	aud := s.endpoint("token_endpoint")
	f, err := pc.form(aud)
	if err != nil {
		return nil, err
	}
	f.Set("scope", "openid")
	st, m, err := postForm(c, s.endpoint("device_authorization_endpoint"), "", f)
	if err != nil {
		return nil, err
	}
	dc, _ := m["device_code"].(string)
	if st != http.StatusOK || dc == "" {
		return nil, fmt.Errorf("device authorization with private_key_jwt: %d %v", st, m)
	}
	bodies := make([][]byte, n)
	for i := range bodies {
		f, err := pc.form(aud)
		if err != nil {
			return nil, err
		}
		f.Set("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
		f.Set("device_code", dc)
		bodies[i] = []byte(f.Encode())
	}
	return bodies, nil
}
