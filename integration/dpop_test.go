package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/internal/grantstest"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// goClient is a Go DPoP client (RFC 9449 §4.2) written on go-jose directly, not on package dpop, so that
// the server's checks are tested against an independent proof maker. No Go DPoP library is served by
// the Go module proxy here (github.com/AxisCommunications/go-dpop and github.com/pquerna/dpop are
// refused), so it signs with go-jose, the JOSE library fosite itself uses.
type goClient struct {
	t   *testing.T
	key *ecdsa.PrivateKey
	jwk jose.JSONWebKey
	jkt string
}

func newGoClient(t *testing.T) *goClient {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk := jose.JSONWebKey{Key: key.Public()}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	return &goClient{t: t, key: key, jwk: jwk, jkt: base64.RawURLEncoding.EncodeToString(sum)}
}

// sign signs claims with an ES256 proof header: typ dpop+jwt and the public jwk, unless header replaces
// them (a nil value removes a member).
func (c *goClient) sign(claims map[string]any, header map[jose.HeaderKey]any) string {
	c.t.Helper()
	h := map[jose.HeaderKey]interface{}{"typ": "dpop+jwt", "jwk": c.jwk}
	for k, v := range header {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.key}, &jose.SignerOptions{ExtraHeaders: h})
	require.NoError(c.t, err)
	payload, err := json.Marshal(claims)
	require.NoError(c.t, err)
	jws, err := signer.Sign(payload)
	require.NoError(c.t, err)
	s, err := jws.CompactSerialize()
	require.NoError(c.t, err)
	return s
}

// claims are a proof's claims for method and target at iat, with ath for accessToken when set.
func proofClaims(method, target string, iat time.Time, accessToken string) map[string]any {
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	c := map[string]any{"jti": base64.RawURLEncoding.EncodeToString(jti), "htm": method, "htu": target, "iat": iat.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return c
}

func (c *goClient) proof(method, target string, iat time.Time) string {
	return c.sign(proofClaims(method, target, iat, ""), nil)
}

// send posts form to path with the DPoP proofs given and extra headers, and returns the raw response.
func send(t *testing.T, e *env, method, path string, form url.Values, header http.Header, proofs ...string) *grantstest.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &grantstest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// approvedDeviceCode starts a device authorization for clientID and approves it for alice through the
// admin API.
func approvedDeviceCode(t *testing.T, e *env, clientID string) string {
	t.Helper()
	status, d := e.post("/oauth2/device/auth", url.Values{"client_id": {clientID}, "scope": {"openid profile offline_access"}}, nil)
	require.Equal(t, http.StatusOK, status, "%v", d)
	status, body := e.admin("/admin/device/approve", url.Values{"user_code": {d["user_code"].(string)}, "subject": {"alice"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	return d["device_code"].(string)
}

func devicePoll(clientID, code string) url.Values {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {clientID}, "device_code": {code}}
}

// TestDPoPDeviceFlowGoClient: the device flow with DPoP end to end through the example server, on the
// memory store and on SQLite (the binding lives in the stored session): the client registered with
// dpop_bound_access_tokens must send a proof; its tokens are DPoP-bound, which introspection reports;
// userinfo and the demo resource take them with the DPoP scheme and a proof, and refuse them as bearer
// tokens or without a proof for this very request; the refresh token works with the same key only.
func TestDPoPDeviceFlowGoClient(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(o *server.Options) {
				if backend == "sqlite" {
					st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"))
					require.NoError(t, err)
					t.Cleanup(func() { _ = st.Close() })
					o.Store = st
				}
			})
			testDPoPDeviceFlow(t, e)
		})
	}
}

func testDPoPDeviceFlow(t *testing.T, e *env) {
	c, thief := newGoClient(t), newGoClient(t)
	tokenURL := e.url + "/oauth2/token"

	status, meta := e.do(mustGet(t, e.url+"/.well-known/openid-configuration"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []any{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA"}, meta["dpop_signing_alg_values_supported"])

	code := approvedDeviceCode(t, e, server.DemoDPoPClientID)
	noProof := send(t, e, http.MethodPost, "/oauth2/token", devicePoll(server.DemoDPoPClientID, code), nil)
	grantstest.Golden(t, "dpop_token_bound_client_without_proof", noProof, nil)

	res := send(t, e, http.MethodPost, "/oauth2/token", devicePoll(server.DemoDPoPClientID, code), nil, c.proof(http.MethodPost, tokenURL, e.clock.Now()))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, "DPoP", res.String(t, "token_type"))
	at, rt := res.String(t, "access_token"), res.String(t, "refresh_token")

	in := send(t, e, http.MethodPost, "/oauth2/introspect", url.Values{"token": {at}}, basicAuth("demo-confidential", server.DemoConfidentialSecret)).JSON(t)
	require.Equal(t, "DPoP", in["token_type"])
	require.Equal(t, map[string]any{"jkt": c.jkt}, in["cnf"])

	// RFC 9449 §7.1: the DPoP scheme with a proof for this request, carrying the token's hash.
	userinfo := e.url + "/userinfo"
	dpopAuth := http.Header{"Authorization": {"DPoP " + at}}
	ok := send(t, e, http.MethodGet, "/userinfo", nil, dpopAuth, c.sign(proofClaims(http.MethodGet, userinfo, e.clock.Now(), at), nil))
	require.Equal(t, http.StatusOK, ok.Status, "%s", ok.Body)
	require.Equal(t, "alice", ok.String(t, "sub"))
	who := send(t, e, http.MethodGet, "/api/whoami", nil, dpopAuth, c.sign(proofClaims(http.MethodGet, e.url+"/api/whoami", e.clock.Now(), at), nil)).JSON(t)
	require.Equal(t, map[string]any{"jkt": c.jkt}, who["cnf"])
	require.Equal(t, "DPoP", who["token_type"])

	algs := `algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA"`
	for _, tc := range []struct {
		name, golden, challenge string
		header                  http.Header
		proof                   string
	}{
		{"bound token as a bearer token (section 7.2)", "dpop_userinfo_bound_token_as_bearer",
			`DPoP error="invalid_token", error_description="The access token is not valid for this request. The access token is bound to a DPoP key: present it with the DPoP scheme and a proof.", ` + algs,
			http.Header{"Authorization": {"Bearer " + at}}, ""},
		{"no proof", "dpop_userinfo_without_proof",
			`DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid. The request lacks the DPoP proof that must come with a DPoP-bound access token.", ` + algs,
			dpopAuth, ""},
		{"proof without ath", "dpop_userinfo_proof_without_ath",
			`DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid. The DPoP proof lacks the 'ath' claim, the hash of the access token it is sent with.", ` + algs,
			dpopAuth, c.proof(http.MethodGet, userinfo, e.clock.Now())},
		{"proof by another key", "dpop_userinfo_proof_by_another_key",
			`DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid. The DPoP proof is made with another key than the one the access token is bound to.", ` + algs,
			dpopAuth, thief.sign(proofClaims(http.MethodGet, userinfo, e.clock.Now(), at), nil)},
		{"proof for another resource", "dpop_userinfo_proof_for_another_url",
			`DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid. The DPoP proof's htu claim does not match the URL of this endpoint.", ` + algs,
			dpopAuth, c.sign(proofClaims(http.MethodGet, e.url+"/api/whoami", e.clock.Now(), at), nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var proofs []string
			if tc.proof != "" {
				proofs = append(proofs, tc.proof)
			}
			res := send(t, e, http.MethodGet, "/userinfo", nil, tc.header, proofs...)
			require.Equal(t, tc.challenge, res.Header.Get("WWW-Authenticate"))
			grantstest.Golden(t, tc.golden, res, nil)
		})
	}

	// The refresh token of this public client is bound to the key too (RFC 9449 §5).
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {server.DemoDPoPClientID}, "refresh_token": {rt}}
	grantstest.Golden(t, "dpop_refresh_with_another_key", send(t, e, http.MethodPost, "/oauth2/token", refresh, nil, thief.proof(http.MethodPost, tokenURL, e.clock.Now())), nil)
	res = send(t, e, http.MethodPost, "/oauth2/token", refresh, nil, c.proof(http.MethodPost, tokenURL, e.clock.Now()))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, "DPoP", res.String(t, "token_type"))
}

// TestDPoPBadProofs: each bad proof the issue lists, sent to the example's token endpoint with an
// approved device code, is invalid_dpop_proof with its own description (golden files), and none of
// them consumes the grant.
func TestDPoPBadProofs(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := newGoClient(t)
	tokenURL := e.url + "/oauth2/token"
	now := e.clock.Now()
	code := approvedDeviceCode(t, e, "demo-device")
	used := c.proof(http.MethodPost, tokenURL, now)
	res := send(t, e, http.MethodPost, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth("demo-confidential", server.DemoConfidentialSecret), used)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)

	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	hs256, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]interface{}{
		"typ": "dpop+jwt", "jwk": map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(hmacKey)}}})
	require.NoError(t, err)
	payload, err := json.Marshal(proofClaims(http.MethodPost, tokenURL, now, ""))
	require.NoError(t, err)
	jws, err := hs256.Sign(payload)
	require.NoError(t, err)
	symmetric, err := jws.CompactSerialize()
	require.NoError(t, err)
	header, err := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": c.jwk})
	require.NoError(t, err)
	none := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."

	for _, tc := range []struct{ golden, proof string }{
		{"dpop_token_wrong_method", c.proof(http.MethodGet, tokenURL, now)},
		{"dpop_token_wrong_url", c.proof(http.MethodPost, e.url+"/oauth2/device/auth", now)},
		{"dpop_token_stale_iat", c.proof(http.MethodPost, tokenURL, now.Add(-2*time.Minute))},
		{"dpop_token_replayed_jti", used},
		{"dpop_token_symmetric_alg", symmetric},
		{"dpop_token_alg_none", none},
		{"dpop_token_private_key_in_jwk", c.sign(proofClaims(http.MethodPost, tokenURL, now, ""), map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: c.key}})},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			res := send(t, e, http.MethodPost, "/oauth2/token", devicePoll("demo-device", code), nil, tc.proof)
			require.Equal(t, http.StatusBadRequest, res.Status)
			require.Equal(t, "invalid_dpop_proof", res.Error(t))
			grantstest.Golden(t, tc.golden, res, nil)
		})
	}
	res = send(t, e, http.MethodPost, "/oauth2/token", devicePoll("demo-device", code), nil, c.proof(http.MethodPost, tokenURL, e.clock.Now()))
	require.Equal(t, http.StatusOK, res.Status, "no bad proof consumed the grant: %s", res.Body)
	require.Equal(t, "DPoP", res.String(t, "token_type"))
}

// TestDPoPCIBAPoll: demo-ciba-poll proves a key at the backchannel request (the binding is kept with
// the pending request, in memory and in SQLite); its token request must prove the same one, and gets
// tokens bound to it.
func TestDPoPCIBAPoll(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testDPoPCIBAPoll(t, backend)
		})
	}
}

func testDPoPCIBAPoll(t *testing.T, backend string) {
	e := startCIBA(t, func(o *server.Options) {
		if backend == "sqlite" {
			st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			o.Store = st
		}
	})
	c, other := newGoClient(t), newGoClient(t)
	status, ack := e.post("/oauth2/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"alice"}},
		mergeHeaders(cibaBasic("demo-ciba-poll", server.DemoCIBASecret), http.Header{"Dpop": {c.proof(http.MethodPost, e.url+"/oauth2/bc-authorize", e.clock.Now())}}))
	require.Equal(t, http.StatusOK, status, "%v", ack)
	authReqID := ack["auth_req_id"].(string)
	status, body := e.admin("/admin/ciba/approve", url.Values{"auth_req_id": {authReqID}})
	require.Equal(t, http.StatusOK, status, "%v", body)

	form := url.Values{"grant_type": {cibaGrantType}, "auth_req_id": {authReqID}}
	basic := cibaBasic("demo-ciba-poll", server.DemoCIBASecret)
	res := send(t, e.env, http.MethodPost, "/oauth2/token", form, basic, other.proof(http.MethodPost, e.url+"/oauth2/token", e.clock.Now()))
	grantstest.Golden(t, "dpop_ciba_token_with_another_key", res, nil)
	res = send(t, e.env, http.MethodPost, "/oauth2/token", form, basic, c.proof(http.MethodPost, e.url+"/oauth2/token", e.clock.Now()))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, "DPoP", res.String(t, "token_type"))
}

// TestDPoPOTP: the OTP grant's token request with a proof gets DPoP tokens.
func TestDPoPOTP(t *testing.T) {
	t.Parallel()
	smtp, opt := withSMTP(t)
	e := start(t, opt)
	c := newGoClient(t)
	oob := e.otpIdentify("1 Main St")["oob_code"].(string)
	status, sent := e.otpSend(oob, "email-1")
	require.Equal(t, http.StatusOK, status, "%v", sent)
	res := send(t, e, http.MethodPost, "/oauth2/token", url.Values{"grant_type": {otpGrantType}, "oob_code": {oob}, "binding_code": {codeFrom(t, smtp.Next(t))}},
		kioskAuth, c.proof(http.MethodPost, e.url+"/oauth2/token", e.clock.Now()))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, "DPoP", res.String(t, "token_type"))
}

// TestDPoPReciprocal: party A's reciprocal grant request to party B (draft-ietf-oauth-reciprocal
// §2.2.2) is a token request like any other to B's DPoP handler: a valid proof is accepted (200 {}),
// a proof made for another URL is invalid_dpop_proof. (The grant issues no token to A, so nothing is
// bound.)
func TestDPoPReciprocal(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	bToken := bTokenFor(t, p.b, "alice", partnerID, partnerSecret, p.a.url+"/reciprocal/callback")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	prover, err := dpop.NewProver(key)
	require.NoError(t, err)
	rec := &recorder{}
	iss := p.issuerA(rec, nil)
	iss.HTTPClient.Transport = prover.Transport(rec)
	_, err = iss.Send(context.Background(), p.grantFor("alice", bToken, "openid", "profile"))
	require.NoError(t, err)
	grantstest.Golden(t, "reciprocal_acknowledgement", rec.res, nil)

	wrong, err := prover.Proof(http.MethodPost, p.b.url+"/userinfo", "", "")
	require.NoError(t, err)
	res := send(t, p.b, http.MethodPost, "/oauth2/token", rec.form, basicAuth(partnerID, partnerSecret), wrong)
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "invalid_dpop_proof", res.Error(t))
}

func mergeHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}
