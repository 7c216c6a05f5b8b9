package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/example/server"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/internal/grantstest"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// The Reciprocal OAuth story of the draft (§1): a voice assistant (party A) and a music service (party
// B), two example servers on two loopback listeners, each naming the other as its partner.

const partnerID, partnerSecret = server.ReciprocalClientID, server.ReciprocalSecret

type pair struct {
	a, b *env // a: voice assistant (party A); b: music service (party B)
}

// startPair runs two example servers that are each other's reciprocal partner, on in-memory stores.
func startPair(t *testing.T) *pair {
	t.Helper()
	return startPairOn(t, false)
}

// startPairOn runs the pair on SQLite stores (one file each) when sqlite is set.
func startPairOn(t *testing.T, sqlite bool) *pair {
	t.Helper()
	return startPairAt(t, sqlite, "")
}

// startPairAt is startPairOn with B named by hostB (such as "localhost") instead of its IP address when
// hostB is set: a browser keeps cookies per host, not per port, so the two servers' sign-in cookies
// would otherwise overwrite each other, as the README's two commands avoid the same way.
func startPairAt(t *testing.T, sqlite bool, hostB string) *pair {
	t.Helper()
	tsA, tsB := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	urlA, urlB := "http://"+tsA.Listener.Addr().String(), "http://"+tsB.Listener.Addr().String()
	if hostB != "" {
		_, port, err := net.SplitHostPort(tsB.Listener.Addr().String())
		require.NoError(t, err)
		urlB = "http://" + net.JoinHostPort(hostB, port)
	}
	mk := func(ts *httptest.Server, self, partner string) *env {
		c := &clock{t: time.Now()}
		opts := server.Options{
			Issuer: self, AdminToken: adminToken, Now: c.Now, Dev: true,
			Reciprocal: server.ReciprocalOptions{Partner: partner, AllowLoopbackHTTP: true, OutboundTimeout: time.Minute},
		}
		if sqlite {
			st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grants.db"), sqlstore.WithClock(c.Now))
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			opts.Store = st
		}
		srv, err := server.New(context.Background(), opts)
		require.NoError(t, err)
		ts.Config.Handler = srv
		ts.Start()
		t.Cleanup(ts.Close)
		return &env{t: t, url: self, srv: srv, clock: c}
	}
	return &pair{a: mk(tsA, urlA, urlB), b: mk(tsB, urlB, urlA)}
}

// noRedirectBrowser is a signed-in person at one server who sees redirects instead of following them
// (the two servers share a host, so each gets its own cookie jar).
func noRedirectBrowser(t *testing.T, e *env, user string) *browser {
	b := e.browser(user, user+"-password")
	jar := b.c.Jar
	b.c = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

func (b *browser) location(t *testing.T, rawURL string) *url.URL {
	t.Helper()
	resp, err := b.c.Get(rawURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET %s", rawURL)
	u, err := resp.Location()
	require.NoError(t, err)
	return u
}

// consentAt signs the person in at the authorization endpoint URL of server e, allows, and returns
// where e sends the person back to (the redirect with the code).
func consentAt(t *testing.T, b *browser, authURL string) *url.URL {
	t.Helper()
	resp, err := b.c.Get(authURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	resp, err = b.c.PostForm(authURL, url.Values{"csrf": {csrfOf(t, string(page))}, "consent": {"allow"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)
	u, err := resp.Location()
	require.NoError(t, err)
	return u
}

// link runs party A's pages: link with the partner (the code flow at B), then give B access to scopes.
func (p *pair) link(t *testing.T, user string, scopes ...string) (a, b *browser) {
	t.Helper()
	a, b = noRedirectBrowser(t, p.a, user), noRedirectBrowser(t, p.b, user)
	authURL := a.location(t, p.a.url+"/reciprocal/link")
	require.True(t, strings.HasPrefix(authURL.String(), p.b.url+"/oauth2/auth?"), authURL.String())
	back := consentAt(t, b, authURL.String())
	require.Equal(t, "/reciprocal/callback", back.Path)
	require.Equal(t, "/reciprocal", a.location(t, back.String()).Path)
	status, page := a.get("/reciprocal")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "asks for <code>openid profile</code>", "B's token response carried its reciprocal scope")
	if len(scopes) > 0 {
		a.grant(t, scopes...)
	}
	return a, b
}

func (b *browser) grant(t *testing.T, scopes ...string) {
	t.Helper()
	_, page := b.get("/reciprocal")
	status, page := b.postForm("/reciprocal/grant", url.Values{"csrf": {csrfOf(t, page)}, "scope": scopes})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "The partner now has access to: "+strings.Join(scopes, " "))
}

// heldByB is the token B holds from A for user.
func (p *pair) heldByB(t *testing.T, user string) *oauth2.Token {
	t.Helper()
	tok, err := p.b.srv.Reciprocal().Tokens.Token(context.Background(), partnerID, user)
	require.NoError(t, err)
	return tok
}

// introspect asks server e about token, as the partner client.
func introspect(t *testing.T, e *env, token string) map[string]interface{} {
	t.Helper()
	status, body := e.post("/oauth2/introspect", url.Values{"token": {token}}, basicAuth(partnerID, partnerSecret))
	require.Equal(t, http.StatusOK, status)
	return body
}

func basicAuth(id, secret string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header
}

// codeAt runs the code flow at server e for client (signed in as user) and returns the code.
func codeAt(t *testing.T, e *env, user, clientID, redirectURI, scope string) string {
	t.Helper()
	b := noRedirectBrowser(t, e, user)
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {scope}, "state": {"state-123456789"}, "redirect_uri": {redirectURI}}
	back := consentAt(t, b, e.url+"/oauth2/auth?"+q.Encode())
	code := back.Query().Get("code")
	require.NotEmpty(t, code, back.String())
	return code
}

// bTokenFor returns an access token B issued to client (with its secret) for user.
func bTokenFor(t *testing.T, e *env, user, clientID, secret, redirectURI string) string {
	t.Helper()
	code := codeAt(t, e, user, clientID, redirectURI, "openid profile")
	status, body := e.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}, basicAuth(clientID, secret))
	require.Equal(t, http.StatusOK, status, body)
	return body["access_token"].(string)
}

// rawPost sends a form to e and returns the response for golden files.
func rawPost(t *testing.T, e *env, path string, form url.Values, header http.Header) *grantstest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &grantstest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// recorder keeps the last request form and response an outbound client saw.
type recorder struct {
	form url.Values
	res  *grantstest.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	r.form, _ = url.ParseQuery(string(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	r.res = &grantstest.Response{Status: resp.StatusCode, Header: resp.Header, Body: rb}
	return resp, nil
}

// issuerA is a copy of A's issuer whose calls are recorded (and whose clock may differ).
func (p *pair) issuerA(rec *recorder, now func() time.Time) *reciprocal.Issuer {
	iss := *p.a.srv.Reciprocal().Issuer
	iss.HTTPClient = &http.Client{Transport: rec, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if now != nil {
		iss.Now = now
	}
	return &iss
}

func (p *pair) grantFor(user, bToken string, scopes ...string) *reciprocal.Offer {
	return &reciprocal.Offer{
		ClientID: partnerID, Scopes: scopes, Session: grantstest.Session(user),
		TokenURL: p.b.url + "/oauth2/token", PartnerClientID: partnerID, PartnerClientSecret: partnerSecret, AccessToken: bToken,
	}
}

// TestReciprocalBothWays runs the whole exchange through the example's pages: A links with B by the
// code flow (B's token response asks for `openid profile` in return), the user gives B access, A pushes
// a code, B redeems it at A and keeps the token for the user, and B calls A's userinfo with it; then the
// user narrows the access (§3) and finally revokes it.
func TestReciprocalBothWays(t *testing.T) {
	t.Parallel()
	for _, sqlite := range []bool{false, true} {
		name := "memory"
		if sqlite {
			name = "sqlite"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testReciprocalBothWays(t, startPairOn(t, sqlite))
		})
	}
}

func testReciprocalBothWays(t *testing.T, p *pair) {
	a, b := p.link(t, "alice", "openid", "profile")

	first := p.heldByB(t, "alice")
	require.Equal(t, "openid profile", first.Extra("scope"))
	require.Equal(t, "bearer", strings.ToLower(first.TokenType))

	// B uses it: A's userinfo answers for alice, the user at both.
	req, _ := http.NewRequest(http.MethodGet, p.a.url+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+first.AccessToken)
	status, claims := p.a.do(req)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "alice", claims["sub"])
	require.Equal(t, "Alice Liddell", claims["name"])
	_, page := b.get("/reciprocal")
	status, page = b.postForm("/reciprocal/call", url.Values{"csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "Alice Liddell", "B's page shows what A's userinfo said")

	// Update (§3): the user takes profile away; B's token is replaced and the old one stops working.
	a.grant(t, "openid")
	second := p.heldByB(t, "alice")
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	require.Equal(t, "openid", second.Extra("scope"))
	require.Equal(t, false, introspect(t, p.a, first.AccessToken)["active"], "the replaced grant was revoked at A")
	info := introspect(t, p.a, second.AccessToken)
	require.Equal(t, true, info["active"])
	require.Equal(t, "openid", info["scope"])
	require.Equal(t, partnerID, info["client_id"])

	// Revocation at A: what B holds stops working at A.
	_, page = a.get("/reciprocal")
	status, page = a.postForm("/reciprocal/revoke", url.Values{"csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "revoked")
	require.Equal(t, false, introspect(t, p.a, p.heldByB(t, "alice").AccessToken)["active"])

	// Seed 001's audit trail: A's log has both grants its user gave B and both revocations, B's log
	// both codes it redeemed; each log verifies, and none holds a token.
	trail := func(e *env) []string {
		var out []string
		for _, ev := range ksAuditEvents(t, e) {
			if ev.Grant != "reciprocal" {
				continue
			}
			line := ev.Subject + " " + ev.Type[strings.LastIndexByte(ev.Type, '/')+1:]
			if sc, ok := ev.Data["scopes"].(string); ok {
				line += " " + sc
			}
			if r, ok := ev.Data["reason"].(string); ok {
				line += " " + r
			}
			for _, v := range ev.Data {
				sv, _ := v.(string)
				require.NotContains(t, sv, first.AccessToken)
				require.NotContains(t, sv, second.AccessToken)
			}
			out = append(out, line)
		}
		return out
	}
	require.Equal(t, []string{"alice approved openid profile", "alice approved openid", " revoked replaced", " revoked revoked"}, trail(p.a))
	require.Equal(t, []string{"alice redeemed openid profile", "alice redeemed openid"}, trail(p.b))
	for _, e := range []*env{p.a, p.b} {
		status, v := ksAuditVerify(t, e)
		require.Equal(t, http.StatusOK, status, "%v", v)
	}
}

// TestReciprocalWire pins party B's answers on the wire: the token response with `reciprocal` (§2.1),
// the authorization code of A pushed and acknowledged with 200 `{}` (§2.2.2), a repeated push answered
// the same without a second redemption, and a replay of the code at A revoking what it issued.
func TestReciprocalWire(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	ctx := context.Background()
	redirect := p.a.url + "/reciprocal/callback"

	// §2.1: B's token response to A's code carries the reciprocal scope.
	code := codeAt(t, p.b, "alice", partnerID, redirect, "openid profile")
	res := rawPost(t, p.b, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, basicAuth(partnerID, partnerSecret))
	body := res.JSON(t)
	grantstest.Golden(t, "reciprocal_token_response", res, map[string]string{
		body["access_token"].(string): "<access_token>", body["id_token"].(string): "<id_token>",
		fmt.Sprintf(`"expires_in":%v`, body["expires_in"]): `"expires_in":"<about 3600>"`,
	})
	bToken := body["access_token"].(string)

	// §2.2.2: A pushes a code; B answers 200 {} after redeeming it at A.
	rec := &recorder{}
	sent, err := p.issuerA(rec, nil).Send(ctx, p.grantFor("alice", bToken, "openid", "profile"))
	require.NoError(t, err)
	require.NotEmpty(t, sent.RequestID)
	require.Equal(t, string(reciprocal.GrantType), rec.form.Get("grant_type"))
	require.Equal(t, partnerID, rec.form.Get("client_id"))
	require.Equal(t, bToken, rec.form.Get("access_token"))
	grantstest.Golden(t, "reciprocal_acknowledgement", rec.res, nil)
	held := p.heldByB(t, "alice")
	require.Equal(t, true, introspect(t, p.a, held.AccessToken)["active"])

	// A retries the same request (its answer was lost): 200 again, nothing redeemed twice.
	again := rawPost(t, p.b, "/oauth2/token", rec.form, basicAuth(partnerID, partnerSecret))
	grantstest.Golden(t, "reciprocal_acknowledgement", again, nil)
	require.Equal(t, held.AccessToken, p.heldByB(t, "alice").AccessToken)
	require.Equal(t, true, introspect(t, p.a, held.AccessToken)["active"])

	// The code is single use at A: presenting it again revokes what it issued.
	status, errBody := p.a.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {rec.form.Get("code")}}, basicAuth(partnerID, partnerSecret))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", errBody["error"])
	require.Equal(t, false, introspect(t, p.a, held.AccessToken)["active"], "a replayed code revokes its tokens")
}

// TestReciprocalRejections: B answers 400 (401 for a failed client authentication) to every request
// that is not valid, and keeps nothing.
func TestReciprocalRejections(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	ctx := context.Background()
	redirect := p.a.url + "/reciprocal/callback"
	bToken := bTokenFor(t, p.b, "alice", partnerID, partnerSecret, redirect)
	otherClients := bTokenFor(t, p.b, "alice", "demo-confidential", server.DemoConfidentialSecret, "http://127.0.0.1:9999/callback")
	status, cc := p.b.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, basicAuth(partnerID, partnerSecret))
	require.Equal(t, http.StatusOK, status)
	noUser := cc["access_token"].(string)
	revoked := bTokenFor(t, p.b, "alice", partnerID, partnerSecret, redirect)
	require.Equal(t, http.StatusOK, rawPost(t, p.b, "/oauth2/revoke", url.Values{"token": {revoked}}, basicAuth(partnerID, partnerSecret)).Status)

	grant := func(mut func(url.Values)) url.Values {
		f := url.Values{"grant_type": {string(reciprocal.GrantType)}, "code": {"not-a-code-of-A"}, "client_id": {partnerID}, "access_token": {bToken}}
		mut(f)
		return f
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
		status int
		error  string
	}{
		{"missing code", grant(func(f url.Values) { f.Del("code") }), basicAuth(partnerID, partnerSecret), 400, "invalid_request"},
		{"missing client_id", grant(func(f url.Values) { f.Del("client_id") }), basicAuth(partnerID, partnerSecret), 400, "invalid_request"},
		{"missing access_token", grant(func(f url.Values) { f.Del("access_token") }), basicAuth(partnerID, partnerSecret), 400, "invalid_request"},
		{"client_id of another client", grant(func(f url.Values) { f.Set("client_id", "demo-confidential") }), basicAuth(partnerID, partnerSecret), 400, "invalid_request"},
		{"wrong client secret", grant(func(url.Values) {}), basicAuth(partnerID, "wrong"), 401, "invalid_client"},
		{"no client authentication", grant(func(url.Values) {}), nil, 401, "invalid_client"},
		{"client that is no partner", grant(func(f url.Values) { f.Set("client_id", "demo-confidential") }), basicAuth("demo-confidential", server.DemoConfidentialSecret), 400, "unauthorized_client"},
		{"unknown access token", grant(func(f url.Values) { f.Set("access_token", "ory_at_garbage.garbage") }), basicAuth(partnerID, partnerSecret), 400, "invalid_grant"},
		{"revoked access token", grant(func(f url.Values) { f.Set("access_token", revoked) }), basicAuth(partnerID, partnerSecret), 400, "invalid_grant"},
		{"access token of another client", grant(func(f url.Values) { f.Set("access_token", otherClients) }), basicAuth(partnerID, partnerSecret), 400, "invalid_grant"},
		{"access token without a user", grant(func(f url.Values) { f.Set("access_token", noUser) }), basicAuth(partnerID, partnerSecret), 400, "invalid_grant"},
		{"bad code", grant(func(url.Values) {}), basicAuth(partnerID, partnerSecret), 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rawPost(t, p.b, "/oauth2/token", tc.form, tc.header)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			require.Equal(t, tc.error, res.Error(t))
			grantstest.Golden(t, "reciprocal_"+strings.ReplaceAll(tc.name, " ", "_"), res, nil)
			_, err := p.b.srv.Reciprocal().Tokens.Token(ctx, partnerID, "alice")
			require.ErrorIs(t, err, fosite.ErrNotFound, "nothing was kept")
		})
	}

	// A code that expired at A (party A's clock ran 3 minutes behind the code's 2-minute lifespan): A's
	// issuer reports B's refusal, and invalidates the code.
	rec := &recorder{}
	_, err := p.issuerA(rec, func() time.Time { return time.Now().Add(-3 * time.Minute) }).Send(ctx, p.grantFor("alice", bToken, "openid"))
	var pe *reciprocal.PartnerError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, http.StatusBadRequest, pe.StatusCode)
	require.Equal(t, "invalid_grant", pe.ErrorCode)
	grantstest.Golden(t, "reciprocal_expired_code", rec.res, nil)

	// An access token that expired at B (B's clock moved past its one-hour lifespan).
	p.b.clock.Add(2 * time.Hour)
	res := rawPost(t, p.b, "/oauth2/token", grant(func(url.Values) {}), basicAuth(partnerID, partnerSecret))
	require.Equal(t, http.StatusBadRequest, res.Status)
	grantstest.Golden(t, "reciprocal_expired_access_token", res, nil)
}

// TestReciprocalPartnerDown: when A cannot be reached, B answers 503 temporarily_unavailable and keeps
// nothing; A's issuer reports an unreachable or non-https partner as an error, not as a refusal.
func TestReciprocalPartnerDown(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	b := start(t, func(o *server.Options) {
		o.Reciprocal = server.ReciprocalOptions{Partner: deadURL, AllowLoopbackHTTP: true}
	})
	bToken := bTokenFor(t, b, "alice", partnerID, partnerSecret, deadURL+"/reciprocal/callback")
	res := rawPost(t, b, "/oauth2/token", url.Values{
		"grant_type": {string(reciprocal.GrantType)}, "code": {"a-code"}, "client_id": {partnerID}, "access_token": {bToken},
	}, basicAuth(partnerID, partnerSecret))
	require.Equal(t, http.StatusServiceUnavailable, res.Status)
	grantstest.Golden(t, "reciprocal_partner_unreachable", res, nil)
	_, err := b.srv.Reciprocal().Tokens.Token(context.Background(), partnerID, "alice")
	require.ErrorIs(t, err, fosite.ErrNotFound)

	p := startPair(t)
	g := p.grantFor("alice", bToken, "openid")
	g.TokenURL = deadURL + "/oauth2/token"
	_, err = p.a.srv.Reciprocal().Issuer.Send(context.Background(), g)
	require.Error(t, err)
	var pe *reciprocal.PartnerError
	require.False(t, errors.As(err, &pe), "no answer is not a refusal: %v", err)

	g.TokenURL = "http://partner.example/oauth2/token"
	_, err = p.a.srv.Reciprocal().Issuer.Send(context.Background(), g)
	require.ErrorIs(t, err, reciprocal.ErrInsecureEndpoint)
}
