package ciba_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

// capturedOutbox keeps the callbacks a decision queues.
type capturedOutbox struct {
	mu  sync.Mutex
	cbs []ciba.Callback
}

func (o *capturedOutbox) Enqueue(_ context.Context, c ciba.Callback) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cbs = append(o.cbs, c)
	return nil
}

func (o *capturedOutbox) last(t *testing.T) map[string]any {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	require.NotEmpty(t, o.cbs)
	var m map[string]any
	require.NoError(t, json.Unmarshal(o.cbs[len(o.cbs)-1].Body, &m))
	return m
}

// strictClient registered dpop_bound_access_tokens (RFC 9449 §5.2).
type strictClient struct{ *ciba.DefaultClient }

func (strictClient) GetDPoPBoundAccessTokens() bool { return true }

// dpopFixture is CIBA composed with DPoP, sessions that carry a binding, and an outbox that keeps what
// push delivers.
type dpopFixture struct {
	handler  http.Handler
	grant    *compose.CIBAGrant
	provider *compose.Provider
	clock    *grantstest.Clock
	ad       *inbox
	outbox   *capturedOutbox
}

func newDPoPFixture(t *testing.T, opts dpop.Options) *dpopFixture {
	t.Helper()
	ctx := context.Background()
	clock := grantstest.NewClock(time.Now().UTC().Truncate(time.Second))
	cfg := &fosite.Config{GlobalSecret: globalSecret, IDTokenIssuer: issuer, HashCost: 4, TokenURL: "https://op.example.com/token"}
	store := memory.New()
	ad := &inbox{}
	dir := &directory{devices: map[string][]ciba.Device{"alice": {{ID: "alice@example.com", Kind: "email"}}}}
	ob := &capturedOutbox{}
	opts.Now = clock.Now
	d := compose.NewDPoP(opts)
	grant := compose.NewCIBAGrant(ciba.Options{
		BackchannelURL: backchannelURL, Resolver: dir, Devices: ad, Outbox: ob, DPoP: d, Now: clock.Now,
	})
	key := grantstest.Key(t)
	keyGetter := func(context.Context) (interface{}, error) { return key, nil }
	strategy := &fcompose.CommonStrategy{
		CoreStrategy:               fcompose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: fcompose.NewOpenIDConnectStrategy(keyGetter, cfg),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
	}
	p := compose.Compose(cfg, store, strategy, fcompose.OAuth2TokenIntrospectionFactory, grant.Factory, d.Factory)
	hash, err := (&fosite.BCrypt{Config: cfg}).Hash(ctx, []byte(secret))
	require.NoError(t, err)
	mk := func(id string, mode ciba.DeliveryMode) *ciba.DefaultClient {
		c := &ciba.DefaultClient{
			DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
				DefaultClient: &fosite.DefaultClient{
					ID: id, Secret: hash, GrantTypes: []string{string(ciba.GrantType)}, Scopes: []string{"openid"},
				},
				TokenEndpointAuthMethod: "client_secret_basic",
			},
			BackchannelTokenDeliveryMode: mode,
		}
		if mode == ciba.ModePush {
			c.BackchannelClientNotificationEndpoint = "https://client.example/cb"
		}
		return c
	}
	for _, c := range []fosite.Client{mk(pollClient, ciba.ModePoll), mk(pushClient, ciba.ModePush), strictClient{mk("strict-push", ciba.ModePush)}} {
		require.NoError(t, store.SetClient(ctx, c))
	}
	mux := http.NewServeMux()
	mux.Handle(bcPath, grant.Backchannel)
	mux.HandleFunc(tokenPath, func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewAccessRequest(ctx, r, dpop.NewOpenIDSession(nil))
		if err != nil {
			dpop.SetNonceHeader(rw.Header(), err)
			p.WriteAccessError(ctx, rw, ar, err)
			return
		}
		resp, err := p.NewAccessResponse(ctx, ar)
		if err != nil {
			p.WriteAccessError(ctx, rw, ar, err)
			return
		}
		p.WriteAccessResponse(ctx, rw, ar, resp)
	})
	return &dpopFixture{handler: mux, grant: grant, provider: p, clock: clock, ad: ad, outbox: ob}
}

// post sends form to path as client with the proof given ("" sends none).
func (f *dpopFixture) post(t *testing.T, path, client string, form url.Values, proof string) *grantstest.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "https://op.example.com"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(client, secret)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(rec.Result().Body)
	return &grantstest.Response{Status: rec.Code, Header: rec.Result().Header, Body: buf.Bytes()}
}

func (f *dpopFixture) approve(t *testing.T) {
	t.Helper()
	n := f.ad.last(t)
	require.NoError(t, f.grant.Decider.Approve(context.Background(), n.Ref,
		pending.Decision{Subject: n.Subject, Session: dpop.NewOpenIDSession(session(n.Subject))}))
}

func (f *dpopFixture) boundTo(t *testing.T, token string) string {
	t.Helper()
	_, ar, err := f.provider.IntrospectToken(context.Background(), token, fosite.AccessToken, dpop.NewOpenIDSession(nil))
	require.NoError(t, err)
	return dpop.BoundTo(ar.GetSession())
}

func newDPoPKey(t *testing.T, c *grantstest.Clock) *dpop.Prover {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p, err := dpop.NewProver(key)
	require.NoError(t, err)
	p.Now = c.Now
	return p
}

func proofFor(t *testing.T, p *dpop.Prover, target string) string {
	t.Helper()
	s, err := p.Proof(http.MethodPost, target, "", "")
	require.NoError(t, err)
	return s
}

var bcForm = url.Values{"scope": {"openid"}, "login_hint": {"alice"}}

// requireDPoPError asserts a 400 RFC 6749 §5.2 error with exactly that description.
func requireDPoPError(t *testing.T, res *grantstest.Response, code, description string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Body)
	require.Equal(t, code, res.Error(t))
	require.Equal(t, description, res.String(t, "error_description"))
}

// TestDPoPBoundAtTheBackchannelRequest: a poll client's proof at the backchannel endpoint binds the
// request: its token request must prove the same key (none, or another, is invalid_dpop_proof and
// consumes nothing), and gets DPoP tokens bound to it.
func TestDPoPBoundAtTheBackchannelRequest(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, dpop.Options{})
	key, other := newDPoPKey(t, f.clock), newDPoPKey(t, f.clock)
	var ack ciba.AuthenticationResponse
	res := f.post(t, bcPath, pollClient, bcForm, proofFor(t, key, backchannelURL))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.NoError(t, json.Unmarshal(res.Body, &ack))
	f.approve(t)

	poll := url.Values{"grant_type": {string(ciba.GrantType)}, "auth_req_id": {ack.AuthReqID}}
	const invalid = "The DPoP proof is invalid. "
	requireDPoPError(t, f.post(t, tokenPath, pollClient, poll, ""), "invalid_dpop_proof",
		invalid+"The grant is bound to a DPoP key: the request must carry a proof made with that key.")
	requireDPoPError(t, f.post(t, tokenPath, pollClient, poll, proofFor(t, other, "https://op.example.com/token")), "invalid_dpop_proof",
		invalid+"The DPoP proof is made with another key than the one the grant is bound to.")
	tok := f.post(t, tokenPath, pollClient, poll, proofFor(t, key, "https://op.example.com/token"))
	require.Equal(t, http.StatusOK, tok.Status, "the refusals consumed nothing: %s", tok.Body)
	require.Equal(t, "DPoP", tok.String(t, "token_type"))
	require.Equal(t, key.JKT(), f.boundTo(t, tok.String(t, "access_token")))
}

// TestDPoPPush: push delivers DPoP tokens bound to the key of the backchannel request's proof, and
// bearer tokens to a request without one; a push client registered with dpop_bound_access_tokens must
// send a proof with its backchannel request.
func TestDPoPPush(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, dpop.Options{})
	key := newDPoPKey(t, f.clock)
	push := url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "client_notification_token": {"push-token-1"}}

	res := f.post(t, bcPath, pushClient, push, proofFor(t, key, backchannelURL))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	f.approve(t)
	body := f.outbox.last(t)
	require.Equal(t, "DPoP", body["token_type"])
	require.Equal(t, key.JKT(), f.boundTo(t, body["access_token"].(string)))

	res = f.post(t, bcPath, pushClient, push, "")
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	f.approve(t)
	body = f.outbox.last(t)
	require.Equal(t, "bearer", body["token_type"])
	require.Empty(t, f.boundTo(t, body["access_token"].(string)))

	sent := f.ad.count()
	requireDPoPError(t, f.post(t, bcPath, "strict-push", push, ""), "invalid_dpop_proof",
		"The DPoP proof is invalid. The client registered dpop_bound_access_tokens and push mode: its backchannel authentication request must carry a DPoP proof.")
	require.Equal(t, sent, f.ad.count(), "a refused request reaches nobody")
}

// TestDPoPBadProofAtTheBackchannelEndpoint: a proof made for another URL is refused, and nobody is
// asked to approve; with nonces required, the endpoint answers use_dpop_nonce with a DPoP-Nonce header.
func TestDPoPBadProofAtTheBackchannelEndpoint(t *testing.T) {
	t.Parallel()
	f := newDPoPFixture(t, dpop.Options{})
	key := newDPoPKey(t, f.clock)
	requireDPoPError(t, f.post(t, bcPath, pollClient, bcForm, proofFor(t, key, "https://op.example.com/token")), "invalid_dpop_proof",
		"The DPoP proof is invalid. The DPoP proof's htu claim does not match the URL of this endpoint.")
	require.Zero(t, f.ad.count())

	f = newDPoPFixture(t, dpop.Options{RequireNonce: true})
	key = newDPoPKey(t, f.clock)
	res := f.post(t, bcPath, pollClient, bcForm, proofFor(t, key, backchannelURL))
	require.Equal(t, "use_dpop_nonce", res.Error(t))
	nonce := res.Header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	withNonce, err := key.Proof(http.MethodPost, backchannelURL, "", nonce)
	require.NoError(t, err)
	res = f.post(t, bcPath, pollClient, bcForm, withNonce)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
}
