package otp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/otp"
	gt "github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/notify"
	"github.com/fosite-contrib/grants/storage/memory"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// The fixture's clients and paths.
const (
	kioskID       = "kiosk"
	kioskSecret   = "kiosk secret that is long enough"
	otherKioskID  = "other-kiosk"
	publicID      = "public-app"
	noOTPClientID = "no-otp"
	challengePath = "/oauth2/otp"
	tokenPath     = "/oauth2/token"
	grantType     = string(otp.DefaultGrantType)
)

// directory is the fixture's customer records: alice by address, account number, phone and e-mail;
// bob by account number, with e-mail only; carol with no destinations.
var directory = otp.DirectoryFunc(func(_ context.Context, hint string) (*otp.Account, error) {
	alice := &otp.Account{Subject: "alice", Destinations: []otp.Destination{
		{Type: otp.SMS, Address: "+15551234567"}, {Type: otp.Email, Address: "alice@example.com"},
	}}
	switch strings.ToLower(hint) {
	case "1 main st", "acct-1001", "+15551234567", "alice@example.com":
		return alice, nil
	case "acct-2002":
		return &otp.Account{Subject: "bob", Locale: "de", Destinations: []otp.Destination{{Type: otp.Email, Address: "bob@example.org"}}}, nil
	case "acct-3003":
		return &otp.Account{Subject: "carol"}, nil
	}
	return nil, otp.ErrUnknownAccount
})

type fixture struct {
	t      testing.TB
	clock  *gt.Clock
	store  fixtureStore
	outbox *notify.Outbox
	audit  *audit.MemoryStorage
	logs   *logBuffer
	keys   audit.KeyFunc
	p      *compose.Provider
	grant  *compose.OTPGrant
	cfg    *fosite.Config
	srv    *httptest.Server
}

// fixtureStore is what the fixture needs of a store.
type fixtureStore interface {
	otp.Storage
	SetClient(ctx context.Context, c fosite.Client) error
}

// backends are the stores the main stories run on: memory, and SQLite through storage/sql.
var backends = []struct {
	name string
	open func(t testing.TB) fixtureStore
}{
	{"memory", func(testing.TB) fixtureStore { return memory.New() }},
	{"sqlite", func(t testing.TB) fixtureStore {
		s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "otp.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

func newFixture(t testing.TB, configure func(*otp.Options)) *fixture {
	t.Helper()
	return newFixtureOn(t, memory.New(), configure)
}

func newFixtureOn(t testing.TB, store fixtureStore, configure func(*otp.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	logs := &logBuffer{}
	clock := gt.NewClock(time.Now().UTC().Truncate(time.Second))
	outbox := notify.NewOutbox(100)
	auditStore := audit.NewMemoryStorage()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	log, err := audit.NewLog(auditStore, jose.SigningKey{Algorithm: jose.ES256, Key: priv}, audit.Options{Issuer: gt.Issuer, Now: clock.Now})
	require.NoError(t, err)

	cfg := &fosite.Config{
		GlobalSecret:       []byte("0123456789abcdef0123456789abcdef"),
		IDTokenIssuer:      gt.Issuer,
		HashCost:           4,
		RefreshTokenScopes: []string{"offline_access"},
	}
	opts := otp.Options{
		ChallengeURL: gt.Issuer + challengePath,
		Directory:    directory,
		Sender:       outbox,
		Scopes:       otp.ScopeText{"usage:read": "See your energy use", "openid": "Confirm who you are"},
		Audit:        log,
		Now:          clock.Now,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&opts)
	}
	k := gt.Key(t)
	keyGetter := func(context.Context) (interface{}, error) { return k, nil }
	strategy := &fcompose.CommonStrategy{
		CoreStrategy:               fcompose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: fcompose.NewOpenIDConnectStrategy(keyGetter, cfg),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
	}
	grant := compose.NewOTPGrant(opts)
	p := compose.Compose(cfg, store, strategy, fcompose.OAuth2RefreshTokenGrantFactory, grant.Factory)
	hash, err := (&fosite.BCrypt{Config: cfg}).Hash(ctx, []byte(kioskSecret))
	require.NoError(t, err)
	for _, c := range []*fosite.DefaultClient{
		{ID: kioskID, Secret: hash, GrantTypes: []string{grantType, "refresh_token"}},
		{ID: otherKioskID, Secret: hash, GrantTypes: []string{grantType}},
		{ID: publicID, Public: true, GrantTypes: []string{grantType}},
		{ID: noOTPClientID, Secret: hash, GrantTypes: []string{"refresh_token"}},
	} {
		c.Scopes = []string{"openid", "offline_access", "usage:read"}
		require.NoError(t, store.SetClient(ctx, c))
	}
	mux := http.NewServeMux()
	mux.Handle(challengePath, grant.Challenge)
	mux.HandleFunc(tokenPath, func(rw http.ResponseWriter, r *http.Request) {
		ar, err := p.NewAccessRequest(r.Context(), r, openid.NewDefaultSession())
		if err != nil {
			p.WriteAccessError(r.Context(), rw, ar, err)
			return
		}
		resp, err := p.NewAccessResponse(r.Context(), ar)
		if err != nil {
			p.WriteAccessError(r.Context(), rw, ar, err)
			return
		}
		p.WriteAccessResponse(r.Context(), rw, ar, resp)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{t: t, clock: clock, logs: logs, store: store, outbox: outbox, audit: auditStore,
		keys: audit.PublicKey(&priv.PublicKey), p: p, grant: grant, cfg: cfg, srv: srv}
}

// do sends a form to path as client (Basic authentication with the fixture secret; "" sends none).
func (f *fixture) do(path, client string, form url.Values) *gt.Response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client != "" {
		req.SetBasicAuth(client, url.QueryEscape(kioskSecret))
	}
	res, err := f.srv.Client().Do(req)
	require.NoError(f.t, err)
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	require.NoError(f.t, err)
	return &gt.Response{Status: res.StatusCode, Header: res.Header, Body: buf.Bytes()}
}

// challenge posts to the challenge endpoint and waits for the deliveries it started (codes are
// delivered after the answer).
func (f *fixture) challenge(client string, form url.Values) *gt.Response {
	f.t.Helper()
	res := f.do(challengePath, client, form)
	f.grant.Challenge.Flush()
	return res
}

// identify runs step 1 as the kiosk and requires success.
func (f *fixture) identify(hint, scope string) *otp.ChallengeResponse {
	f.t.Helper()
	res := f.challenge(kioskID, url.Values{"login_hint": {hint}, "scope": {scope}})
	require.Equal(f.t, http.StatusOK, res.Status, "body: %s", res.Body)
	var c otp.ChallengeResponse
	require.NoError(f.t, json.Unmarshal(res.Body, &c))
	return &c
}

// send runs step 2 as the kiosk and requires success.
func (f *fixture) send(oob, channel string) *otp.ChallengeResponse {
	f.t.Helper()
	res := f.challenge(kioskID, url.Values{"oob_code": {oob}, "channel": {channel}})
	require.Equal(f.t, http.StatusOK, res.Status, "body: %s", res.Body)
	var c otp.ChallengeResponse
	require.NoError(f.t, json.Unmarshal(res.Body, &c))
	return &c
}

var codeRE = regexp.MustCompile(`\b(\d{6,8})\b`)

// lastCode reads the code from the newest message in the outbox.
func (f *fixture) lastCode() (string, notify.Message) {
	f.t.Helper()
	msgs := f.outbox.Messages()
	require.NotEmpty(f.t, msgs, "no message was sent")
	m := msgs[0]
	c := codeRE.FindStringSubmatch(m.Text)
	require.NotNil(f.t, c, "no code in %q", m.Text)
	return c[1], m
}

func (f *fixture) redeem(client, oob, code string) *gt.Response {
	f.t.Helper()
	return f.do(tokenPath, client, url.Values{"grant_type": {grantType}, "oob_code": {oob}, "binding_code": {code}})
}

// events decodes the audit log.
func (f *fixture) events() []audit.Event {
	f.t.Helper()
	var out []audit.Event
	v := &audit.Verifier{Keys: f.keys, Visit: func(_ int64, e audit.Event) error {
		out = append(out, e)
		return nil
	}}
	_, err := v.Verify(context.Background(), f.audit)
	require.NoError(f.t, err)
	return out
}

// logBuffer keeps the log, so tests can check that no secret is in it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
