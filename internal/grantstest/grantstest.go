// Package grantstest is the shared test fixture of this module: a real provider composed from this
// module's compose package, fosite's strategies and the in-memory store, with an injected clock, a set of
// registered clients and an HTTP server that routes the device authorization and token endpoints.
//
// It is for tests only. Every call of New builds a fresh store, clock and server, so tests that use
// their own Server may run in parallel.
//
// # Use
//
//	s := grantstest.New(t, nil)
//	dev := s.StartDevice(t, grantstest.PublicClientID, "openid offline_access")
//	s.Poll(t, grantstest.PublicClientID, dev.DeviceCode) // authorization_pending
//	s.Approve(t, dev.UserCode, "alice")
//	s.Clock.Advance(5 * time.Second)
//	tok := s.Poll(t, grantstest.PublicClientID, dev.DeviceCode) // 200, tokens
//
// Golden files: Golden compares a response with testdata/<name>.golden.json in the calling package's
// directory; run the tests with -update to rewrite them.
package grantstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
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
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/handler/rfc8628"
	"github.com/fosite-contrib/grants/storage/memory"
)

// The registered clients.
const (
	// PublicClientID is a public device client (token_endpoint_auth_method none) that may use the device
	// grant and refresh tokens.
	PublicClientID = "device-public"
	// ConfidentialClientID is a confidential client with ConfidentialSecret that may use the device grant,
	// refresh tokens and client credentials.
	ConfidentialClientID = "device-confidential"
	// ConfidentialSecret is ConfidentialClientID's secret (stored as a bcrypt hash).
	ConfidentialSecret = "correct horse battery staple"
	// NoDeviceClientID is a confidential client, with ConfidentialSecret, that may NOT use the device grant.
	NoDeviceClientID = "no-device"
	// NoRefreshClientID is a public device client that may not use the refresh_token grant.
	NoRefreshClientID = "device-no-refresh"
)

// ClientScopes are the scopes every registered client may request.
var ClientScopes = []string{"openid", "offline_access", "offline", "profile", "photos"}

// Paths the server routes.
const (
	DevicePath = "/oauth2/device/auth"
	TokenPath  = "/oauth2/token"
)

// VerificationURI is the configured end-user verification URI; its query must survive in
// verification_uri_complete.
const VerificationURI = "https://example.com/device?lang=en"

// DeviceAuthorizationURL is the configured device_authorization_endpoint.
const DeviceAuthorizationURL = "https://example.com/oauth2/device/auth"

// Issuer is the ID token issuer.
const Issuer = "https://example.com"

// UserAgent is the User-Agent the helpers send.
const UserAgent = "grantstest/1.0"

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
)

// Key returns the RSA key ID tokens are signed with. It is made once per test binary (key generation is
// slow under the race detector) and never changed.
func Key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { key, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	require.NoError(t, keyErr)
	return key
}

// Clock is an injectable clock that only moves when told to. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Server is a composed provider with its store, clock and HTTP server.
type Server struct {
	Provider *compose.Provider
	// Device is the composed device grant.
	Device *compose.DeviceGrant
	Config *fosite.Config
	Store  *memory.MemoryStore
	Clock  *Clock
	Key    *rsa.PrivateKey
	// Handler routes DevicePath and TokenPath; use it with httptest.NewRecorder for in-process calls.
	Handler http.Handler
	// HTTP is a running server with Handler, closed when the test ends.
	HTTP *httptest.Server
}

// Options changes the fixture. The zero value is the default fixture.
type Options struct {
	// Configure, when not nil, may change the device grant's options before Compose reads them
	// (limits, lifespans, intervals, audit, alerts, kiosk).
	Configure func(*rfc8628.Options)
	// Fosite, when not nil, may change fosite's configuration before Compose reads it (client
	// authentication, hashers, token URLs).
	Fosite func(*fosite.Config)
	// SigningKey, when not nil, replaces the key getter of the ID token signer (to make signing fail).
	SigningKey func(context.Context) (interface{}, error)
}

// New composes a provider. configure, when not nil, may change the device grant's options before
// Compose reads them (limits, lifespans, intervals). The clock starts at the current time truncated to the second:
// fosite's own token handlers use time.Now, so the injected clock must stay close to it.
func New(t testing.TB, configure func(*rfc8628.Options)) *Server {
	t.Helper()
	return NewWith(t, Options{Configure: configure})
}

// NewWith is New with more options.
func NewWith(t testing.TB, o Options) *Server {
	t.Helper()
	s := newServer(t, o)
	s.HTTP = httptest.NewServer(s.Handler)
	t.Cleanup(s.HTTP.Close)
	return s
}

// NewUnstarted is New without the HTTP server, for benchmarks that call Handler in process.
func NewUnstarted(t testing.TB, configure func(*rfc8628.Options)) *Server {
	t.Helper()
	return newServer(t, Options{Configure: configure})
}

// NewUnstartedWith is NewWith without the HTTP server.
func NewUnstartedWith(t testing.TB, o Options) *Server {
	t.Helper()
	return newServer(t, o)
}

func newServer(t testing.TB, o Options) *Server {
	t.Helper()
	ctx := context.Background()
	k := Key(t)
	configure := o.Configure
	clock := NewClock(time.Now().UTC().Truncate(time.Second))
	cfg := &fosite.Config{
		GlobalSecret:  []byte("0123456789abcdef0123456789abcdef"),
		IDTokenIssuer: Issuer,
		HashCost:      4,
	}
	opts := rfc8628.Options{
		AuthorizationURL: DeviceAuthorizationURL,
		VerificationURI:  VerificationURI,
		Now:              clock.Now,
	}
	if configure != nil {
		configure(&opts)
	}
	if o.Fosite != nil {
		o.Fosite(cfg)
	}
	store := memory.New()
	keyGetter := func(context.Context) (interface{}, error) { return k, nil }
	if o.SigningKey != nil {
		keyGetter = o.SigningKey
	}
	strategy := &fcompose.CommonStrategy{
		CoreStrategy:               fcompose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: fcompose.NewOpenIDConnectStrategy(keyGetter, cfg),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
	}
	device := compose.NewDeviceGrant(opts)
	p := compose.Compose(cfg, store, strategy,
		fcompose.OAuth2ClientCredentialsGrantFactory,
		compose.RefreshTokenGrantFactory,
		fcompose.OpenIDConnectRefreshFactory,
		fcompose.OAuth2TokenIntrospectionFactory,
		fcompose.OAuth2TokenRevocationFactory,
		device.Factory,
	)

	hash, err := (&fosite.BCrypt{Config: cfg}).Hash(ctx, []byte(ConfidentialSecret))
	require.NoError(t, err)
	dc := string(rfc8628.GrantType)
	for _, c := range []*fosite.DefaultClient{
		{ID: PublicClientID, Public: true, GrantTypes: []string{dc, "refresh_token"}},
		{ID: NoRefreshClientID, Public: true, GrantTypes: []string{dc}},
		{ID: ConfidentialClientID, Secret: hash, GrantTypes: []string{dc, "refresh_token", "client_credentials"}},
		{ID: NoDeviceClientID, Secret: hash, GrantTypes: []string{"client_credentials"}},
	} {
		c.Scopes = ClientScopes
		c.Audience = []string{"https://api.example.com"}
		require.NoError(t, store.SetClient(ctx, c))
	}

	s := &Server{Provider: p, Device: device, Config: cfg, Store: store, Clock: clock, Key: k}
	mux := http.NewServeMux()
	mux.Handle(DevicePath, device.Authorization)
	mux.HandleFunc(TokenPath, s.token)
	s.Handler = mux
	return s
}

// token is the token endpoint, as an application writes it with fosite.
func (s *Server) token(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := s.Provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
	if err != nil {
		s.Provider.WriteAccessError(ctx, rw, ar, err)
		return
	}
	resp, err := s.Provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.Provider.WriteAccessError(ctx, rw, ar, err)
		return
	}
	s.Provider.WriteAccessResponse(ctx, rw, ar, resp)
}

// Response is an HTTP response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r *Response) JSON(t testing.TB) map[string]interface{} {
	t.Helper()
	var m map[string]interface{}
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// String returns the string member name of the JSON body, or "".
func (r *Response) String(t testing.TB, name string) string {
	t.Helper()
	s, _ := r.JSON(t)[name].(string)
	return s
}

// Error returns the body's "error" member.
func (r *Response) Error(t testing.TB) string { return r.String(t, "error") }

// Request describes one HTTP request to the server. Zero fields get defaults: POST, a form content type.
type Request struct {
	Method      string
	Path        string
	Form        url.Values
	RawBody     string // sent instead of Form when not empty
	ContentType string // "-" sends none
	// BasicUser and BasicPassword, when BasicUser is set, authenticate with HTTP Basic.
	BasicUser, BasicPassword string
}

// Do sends req to the running server and requires a response.
func (s *Server) Do(t testing.TB, req Request) *Response {
	t.Helper()
	res, err := s.RoundTrip(req)
	require.NoError(t, err)
	return res
}

// RoundTrip sends req to the running server. Unlike Do it may be called from any goroutine.
func (s *Server) RoundTrip(req Request) (*Response, error) {
	r, err := newRequest(req, s.HTTP.URL)
	if err != nil {
		return nil, err
	}
	res, err := s.HTTP.Client().Do(r)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: buf.Bytes()}, nil
}

// NewHTTPRequest builds req as an in-process request for Handler (no network).
func (s *Server) NewHTTPRequest(t testing.TB, req Request) *http.Request {
	t.Helper()
	r, err := newRequest(req, "http://example.com")
	require.NoError(t, err)
	return r
}

func newRequest(req Request, base string) (*http.Request, error) {
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	body := req.RawBody
	if body == "" && req.Form != nil {
		body = req.Form.Encode()
	}
	r, err := http.NewRequest(method, base+req.Path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	switch req.ContentType {
	case "":
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "-":
	default:
		r.Header.Set("Content-Type", req.ContentType)
	}
	if req.BasicUser != "" {
		r.SetBasicAuth(url.QueryEscape(req.BasicUser), url.QueryEscape(req.BasicPassword))
	}
	r.Header.Set("User-Agent", UserAgent)
	return r, nil
}

// DeviceResponse is the device authorization response as a client reads it.
type DeviceResponse = rfc8628.DeviceResponse

// StartDevice asks for a device code as the public-style client clientID (client_id in the body, no
// secret) for scope, and requires success.
func (s *Server) StartDevice(t testing.TB, clientID, scope string) *DeviceResponse {
	t.Helper()
	form := url.Values{"client_id": {clientID}}
	if scope != "" {
		form.Set("scope", scope)
	}
	res := s.Do(t, Request{Path: DevicePath, Form: form})
	require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
	var d DeviceResponse
	require.NoError(t, json.Unmarshal(res.Body, &d))
	return &d
}

// PollForm is the device access token request of clientID (client_id in the body) for deviceCode.
func PollForm(clientID, deviceCode string) url.Values {
	f := url.Values{"grant_type": {string(rfc8628.GrantType)}, "client_id": {clientID}}
	if deviceCode != "" {
		f.Set("device_code", deviceCode)
	}
	return f
}

// Poll sends the device access token request of a public client.
func (s *Server) Poll(t testing.TB, clientID, deviceCode string) *Response {
	t.Helper()
	return s.Do(t, Request{Path: TokenPath, Form: PollForm(clientID, deviceCode)})
}

// Caller is the person the helpers look user codes up as: an anonymous caller at 192.0.2.1.
var Caller = pending.Caller{Address: "192.0.2.1"}

// Codes returns the codes of the server's global secret, to compute handle signatures in tests.
func (s *Server) Codes() *pending.Codes { return pending.NewCodes(s.Config) }

// Session returns a session for subject that can carry an ID token.
func Session(subject string) *openid.DefaultSession {
	sess := openid.NewDefaultSession()
	sess.Subject = subject
	sess.Claims.Subject = subject
	return sess
}

// Approve approves the request with userCode for subject, granting scopes (nil: all requested), from
// the address 192.0.2.1, and requires success.
func (s *Server) Approve(t testing.TB, userCode, subject string, scopes ...string) *rfc8628.Authorization {
	t.Helper()
	a, err := s.Device.Verifier.Approve(context.Background(), userCode, Caller,
		pending.Decision{Subject: subject, Session: Session(subject), GrantedScopes: scopes})
	require.NoError(t, err)
	return a
}
