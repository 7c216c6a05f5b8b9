package ciba_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/outbox"
	"github.com/fosite-contrib/grants/storage/memory"
)

const (
	issuer         = "https://op.example.com"
	backchannelURL = "https://op.example.com/bc-authorize"
	verifyURI      = "https://op.example.com/enroll"
	bcPath         = "/bc-authorize"
	tokenPath      = "/token"
	secret         = "correct horse battery staple"
)

// The registered clients.
const (
	pollClient     = "poll-client"
	pingClient     = "ping-client"
	pushClient     = "push-client"
	fallbackClient = "fallback-client"
	userCodeClient = "usercode-client"
	signedClient   = "signed-client"
	publicClient   = "public-client"
	noCIBAClient   = "no-ciba-client"
	noModeClient   = "no-mode-client"
	keyJWTClient   = "private-key-jwt-client"
)

var globalSecret = []byte("0123456789abcdef0123456789abcdef")

// directory is a real in-memory user directory implementing the app interfaces: login_hint is a user
// name; login_hint_token is "lht:<name>" or "expired:<name>"; id_token_hint is resolved by subject.
type directory struct {
	mu      sync.Mutex
	devices map[string][]ciba.Device // subject → devices; a known subject may have none
	codes   map[string]string        // subject → user code
	enrolls []string
}

func (d *directory) ResolveHint(_ context.Context, h ciba.Hint) (*ciba.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := h.Value
	switch h.Kind {
	case ciba.HintLoginHintToken:
		switch {
		case strings.HasPrefix(h.Value, "lht:"):
			name = strings.TrimPrefix(h.Value, "lht:")
		case strings.HasPrefix(h.Value, "expired:"):
			return nil, ciba.ErrExpiredLoginHintToken
		default:
			return nil, ciba.ErrUnknownUserID.WithHint("The login_hint_token is malformed.")
		}
	case ciba.HintIDTokenHint:
		name = h.Subject
	}
	devs, ok := d.devices[name]
	if !ok {
		return nil, ciba.ErrUnknownUserID
	}
	return &ciba.User{Subject: name, Devices: append([]ciba.Device{}, devs...)}, nil
}

func (d *directory) CheckUserCode(_ context.Context, subject, code string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	want, ok := d.codes[subject]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
		return ciba.ErrInvalidUserCode
	}
	return nil
}

func (d *directory) Enroll(_ context.Context, subject string, req ciba.Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.devices[subject] = append(d.devices[subject], ciba.Device{ID: subject + "@example.com", Kind: "email"})
	d.enrolls = append(d.enrolls, subject)
	return nil
}

// inbox records the notifications sent to authentication devices.
type inbox struct {
	mu sync.Mutex
	ns []ciba.Notification
}

func (i *inbox) Notify(_ context.Context, n ciba.Notification) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.ns = append(i.ns, n)
	return nil
}

func (i *inbox) last(t *testing.T) ciba.Notification {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	require.NotEmpty(t, i.ns, "no notification was sent")
	return i.ns[len(i.ns)-1]
}

func (i *inbox) count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.ns)
}

// callbacks is the clients' notification endpoint: it records what arrives.
type callbacks struct {
	mu       sync.Mutex
	received []callback
	status   int
}

type callback struct {
	Path          string
	Authorization string
	ContentType   string
	Body          map[string]interface{}
}

func (c *callbacks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var body map[string]interface{}
	_ = json.NewDecoder(r.Body).Decode(&body)
	c.mu.Lock()
	c.received = append(c.received, callback{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body})
	status := c.status
	c.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	rw.WriteHeader(status)
}

func (c *callbacks) all() []callback {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]callback{}, c.received...)
}

// fixtureStore is what the fixture needs of a store; the memory and SQL stores have it all.
type fixtureStore interface {
	fosite.Storage
	ciba.Storage
	pending.AttemptStorage
	outbox.Storage
	SetClient(ctx context.Context, c fosite.Client) error
}

type fixture struct {
	p         *compose.Provider
	grant     *compose.CIBAGrant
	outbox    *switchOutbox
	cfg       *fosite.Config
	store     fixtureStore
	clock     *grantstest.Clock
	dir       *directory
	ad        *inbox
	cb        *callbacks
	cbURL     string
	clientKey *ecdsa.PrivateKey
	otherKey  *ecdsa.PrivateKey
	worker    *outbox.Worker
	handler   http.Handler
}

func newFixture(t testing.TB, configure func(*ciba.Options)) *fixture {
	t.Helper()
	return newFixtureOn(t, configure, memory.New())
}

func newFixtureOn(t testing.TB, configure func(*ciba.Options), store fixtureStore) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := grantstest.NewClock(time.Now().UTC().Truncate(time.Second))
	cfg := &fosite.Config{GlobalSecret: globalSecret, IDTokenIssuer: issuer, HashCost: 4, TokenURL: "https://op.example.com/token"}
	dir := &directory{
		devices: map[string][]ciba.Device{"alice": {{ID: "alice@example.com", Kind: "email"}}, "bob": nil},
		codes:   map[string]string{"alice": "1234"},
	}
	ad := &inbox{}
	opts := ciba.Options{
		BackchannelURL: backchannelURL, VerificationURI: verifyURI,
		Resolver: dir, Devices: ad, Enroller: dir, UserCodes: dir,
		RequestSigningAlgs: []string{"ES256", "PS256"},
		AllowLoopbackHTTP:  true,
		Now:                clock.Now,
		// The fixture's tests ask for the same few users many times; policy_test.go turns the limit on.
		Policy: pending.Policy{Initiation: pending.InitiationLimits{PerUser: -1}},
	}
	if configure != nil {
		configure(&opts)
	}
	key := grantstest.Key(t)
	keyGetter := func(context.Context) (interface{}, error) { return key, nil }
	strategy := &fcompose.CommonStrategy{
		CoreStrategy:               fcompose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: fcompose.NewOpenIDConnectStrategy(keyGetter, cfg),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
	}
	sealer, err := outbox.NewSealer(globalSecret)
	require.NoError(t, err)
	ob := &switchOutbox{next: compose.OutboxCallbacks{Queue: &outbox.Queue{Storage: store, Sealer: sealer, Now: clock.Now}}}
	if opts.Outbox == nil {
		opts.Outbox = ob
	}
	grant := compose.NewCIBAGrant(opts)
	p := compose.Compose(cfg, store, strategy,
		fcompose.OAuth2RefreshTokenGrantFactory,
		fcompose.OpenIDConnectRefreshFactory,
		fcompose.OAuth2TokenIntrospectionFactory,
		grant.Factory,
	)

	cb := &callbacks{}
	cbSrv := httptest.NewServer(cb)
	t.Cleanup(cbSrv.Close)

	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	hash, err := (&fosite.BCrypt{Config: cfg}).Hash(ctx, []byte(secret))
	require.NoError(t, err)
	grantType := string(ciba.GrantType)
	mk := func(id string, mode ciba.DeliveryMode, mutate func(*ciba.DefaultClient)) *ciba.DefaultClient {
		c := &ciba.DefaultClient{
			DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
				DefaultClient: &fosite.DefaultClient{
					ID: id, Secret: hash, GrantTypes: []string{grantType, "refresh_token"},
					Scopes: []string{"openid", "profile", "offline_access", "offline"}, Audience: []string{"https://api.example.com"},
				},
				TokenEndpointAuthMethod: "client_secret_basic",
			},
			Name:                         "Client " + id,
			BackchannelTokenDeliveryMode: mode,
		}
		if mode != ciba.ModePoll {
			c.BackchannelClientNotificationEndpoint = cbSrv.URL + "/cb/" + id
		}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	clients := []fosite.Client{
		mk(pollClient, ciba.ModePoll, nil),
		mk(pingClient, ciba.ModePing, nil),
		mk(pushClient, ciba.ModePush, nil),
		mk(fallbackClient, ciba.ModePoll, func(c *ciba.DefaultClient) { c.BackchannelEnrollmentFallback = true }),
		mk(userCodeClient, ciba.ModePoll, func(c *ciba.DefaultClient) { c.BackchannelUserCodeParameter = true }),
		mk(signedClient, ciba.ModePoll, func(c *ciba.DefaultClient) {
			c.BackchannelAuthenticationRequestSigningAlg = "ES256"
			c.JSONWebKeys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &clientKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
		}),
		mk(keyJWTClient, ciba.ModePoll, func(c *ciba.DefaultClient) {
			c.Secret = nil
			c.TokenEndpointAuthMethod = "private_key_jwt"
			c.TokenEndpointAuthSigningAlgorithm = "ES256"
			c.JSONWebKeys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &clientKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
		}),
		mk(publicClient, ciba.ModePoll, func(c *ciba.DefaultClient) {
			c.Public, c.Secret, c.TokenEndpointAuthMethod = true, nil, "none"
		}),
		mk(noCIBAClient, ciba.ModePoll, func(c *ciba.DefaultClient) { c.GrantTypes = []string{"refresh_token"} }),
		&fosite.DefaultClient{ID: noModeClient, Secret: hash, GrantTypes: []string{grantType}, Scopes: []string{"openid"}},
	}
	for _, c := range clients {
		require.NoError(t, store.SetClient(ctx, c))
	}

	worker := &outbox.Worker{
		Storage: store, Sealer: sealer, Now: clock.Now,
		Deliverer: outbox.NewWebhook(outbox.WebhookConfig{AllowLoopback: true}),
	}

	f := &fixture{p: p, grant: grant, outbox: ob, cfg: cfg, store: store, clock: clock, dir: dir, ad: ad, cb: cb, cbURL: cbSrv.URL,
		clientKey: clientKey, otherKey: otherKey, worker: worker}
	mux := http.NewServeMux()
	mux.Handle(bcPath, grant.Backchannel)
	mux.HandleFunc(tokenPath, func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := p.NewAccessRequest(ctx, r, openid.NewDefaultSession())
		if err != nil {
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
	f.handler = mux
	return f
}

// req is one request to the fixture's endpoints.
type req struct {
	path       string
	form       url.Values
	raw        string
	method     string
	user, pass string // Basic authentication; user "" sends none
}

func (f *fixture) do(t *testing.T, r req) *grantstest.Response {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	body := r.raw
	if body == "" && r.form != nil {
		body = r.form.Encode()
	}
	hr := httptest.NewRequest(method, "https://op.example.com"+r.path, strings.NewReader(body))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.RemoteAddr = "192.0.2.7:4711"
	if r.user != "" {
		hr.SetBasicAuth(url.QueryEscape(r.user), url.QueryEscape(r.pass))
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, hr)
	res := rec.Result()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return &grantstest.Response{Status: res.StatusCode, Header: res.Header, Body: buf.Bytes()}
}

// authorize sends a backchannel authentication request as client (Basic authentication with the
// secret) with form.
func (f *fixture) authorize(t *testing.T, client string, form url.Values) *grantstest.Response {
	t.Helper()
	return f.do(t, req{path: bcPath, form: form, user: client, pass: secret})
}

// start sends a request for alice that must succeed, and returns the acknowledgement.
func (f *fixture) start(t *testing.T, client string, form url.Values) *ciba.AuthenticationResponse {
	t.Helper()
	res := f.authorize(t, client, form)
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	var a ciba.AuthenticationResponse
	require.NoError(t, json.Unmarshal(res.Body, &a))
	return &a
}

func (f *fixture) poll(t *testing.T, client, authReqID string) *grantstest.Response {
	t.Helper()
	form := url.Values{"grant_type": {string(ciba.GrantType)}}
	if authReqID != "" {
		form.Set("auth_req_id", authReqID)
	}
	return f.do(t, req{path: tokenPath, form: form, user: client, pass: secret})
}

func session(subject string) *openid.DefaultSession {
	s := openid.NewDefaultSession()
	s.Subject = subject
	s.Claims.Subject = subject
	s.Claims.Issuer = issuer
	s.Claims.AuthTime = time.Now().UTC()
	return s
}

// approveLast approves the last notified request for its subject.
func (f *fixture) approveLast(t *testing.T, scopes ...string) ciba.Notification {
	t.Helper()
	n := f.ad.last(t)
	require.NoError(t, f.grant.Decider.Approve(context.Background(), n.Ref,
		pending.Decision{Subject: n.Subject, Session: session(n.Subject), GrantedScopes: scopes}))
	return n
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// signRequest signs claims as a request object with key (ES256, kid k1), or with alg "none".
func signRequest(t *testing.T, key *ecdsa.PrivateKey, alg string, claims map[string]interface{}) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	if alg == "none" {
		return b64(`{"alg":"none"}`) + "." + b64(string(payload)) + "."
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	require.NoError(t, err)
	obj, err := signer.Sign(payload)
	require.NoError(t, err)
	s, err := obj.CompactSerialize()
	require.NoError(t, err)
	return s
}

func b64(s string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}
