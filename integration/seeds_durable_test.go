package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/example/server"
	sqlstore "github.com/fosite-contrib/grants/storage/sql"
)

// Seed 003's "later requests take the normal path", across a restart: bob, who has no device, enrols
// his e-mail through the fallback; the example is killed (SIGKILL) and started again; his next request
// reaches him by e-mail, with no user code.
func TestEnrolledDeviceSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example binary")
	}
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	args := []string{"-addr", addr, "-db", filepath.Join(dir, "grants.db"), "-admin-token", adminToken}
	e := &cibaEnv{env: &env{t: t, url: "http://" + addr}}

	first := startProcess(t, args...)
	ack := e.ask("demo-ciba-poll", "bob", nil)
	code, _ := ack["user_code"].(string)
	require.NotEmpty(t, code, "bob has no device yet: the enrolment fallback")
	b := e.browser("bob", "bob-password")
	_, html := b.get("/ciba/enroll?entered=1&user_code=" + url.QueryEscape(code))
	status, html := b.postForm("/ciba/enroll", url.Values{"csrf": {csrfOf(t, html)}, "user_code": {code}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status, html)
	status, body := e.redeem("demo-ciba-poll", ack["auth_req_id"].(string))
	require.Equal(t, http.StatusOK, status, "%v", body)

	first.kill()
	startProcess(t, args...)

	ack = e.ask("demo-ciba-poll", "bob", nil)
	require.Nil(t, ack["user_code"], "after the restart bob's request took the fallback again: %v", ack)
	require.Contains(t, e.outboxMail("bob@example.com").Text, "Demo CIBA app (poll)", "the request reached bob's enrolled mailbox")
}

// restartable is an example server on SQLite whose process can be "restarted": a new server on the same
// database, keys and address.
type restartable struct {
	*env
	ts    *httptest.Server
	store *sqlstore.Store
	path  string
	opts  server.Options
}

func startRestartable(t *testing.T, self string, ts *httptest.Server, mod func(*server.Options)) *restartable {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	c := &clock{t: time.Now()}
	r := &restartable{ts: ts, opts: server.Options{Issuer: self, AdminToken: adminToken, Now: c.Now, Dev: true, GlobalSecret: secret, SigningKey: key}}
	if mod != nil {
		mod(&r.opts)
	}
	r.path = filepath.Join(t.TempDir(), "grants.db")
	r.env = &env{t: t, url: self, clock: c}
	r.restart()
	ts.Start()
	t.Cleanup(ts.Close)
	return r
}

// restart replaces the server with a new one over the database, opened again.
func (r *restartable) restart() {
	r.t.Helper()
	if r.store != nil {
		require.NoError(r.t, r.store.Close())
	}
	st, err := sqlstore.Open(context.Background(), r.path, sqlstore.WithClock(r.clock.Now))
	require.NoError(r.t, err)
	r.t.Cleanup(func() { _ = st.Close() })
	r.store = st
	opts := r.opts
	opts.Store = st
	srv, err := server.New(context.Background(), opts)
	require.NoError(r.t, err)
	r.srv = srv
	r.ts.Config.Handler = srv
}

// Seed 004, party A's side across a restart: the voice assistant keeps its users' links with the music
// service (the partner's token, what it asked, what was granted) in its database, so after a restart
// alice's page still shows the link and her grant can still be updated and revoked.
func TestReciprocalLinkSurvivesRestart(t *testing.T) {
	t.Parallel()
	tsA, tsB := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	urlA, urlB := "http://"+tsA.Listener.Addr().String(), "http://"+tsB.Listener.Addr().String()
	partner := func(p string) func(*server.Options) {
		return func(o *server.Options) {
			o.Reciprocal = server.ReciprocalOptions{Partner: p, AllowLoopbackHTTP: true, OutboundTimeout: time.Minute}
		}
	}
	a := startRestartable(t, urlA, tsA, partner(urlB))
	b := startRestartable(t, urlB, tsB, partner(urlA))
	p := &pair{a: a.env, b: b.env}
	alice, _ := p.link(t, "alice", "openid")
	before := p.heldByB(t, "alice")
	require.True(t, a.active(before.AccessToken))

	a.restart()

	status, page := alice.get("/reciprocal")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "asks for <code>openid profile</code>", "the link is gone after the restart")
	require.Contains(t, page, "Update access")
	alice.grant(t, "openid", "profile") // draft §3: the new grant replaces the one made before the restart
	after := p.heldByB(t, "alice")
	require.Equal(t, "openid profile", after.Extra("scope"))
	require.False(t, a.active(before.AccessToken), "the grant made before the restart was not replaced")
	require.True(t, a.active(after.AccessToken))

	_, page = alice.get("/reciprocal")
	status, page = alice.postForm("/reciprocal/revoke", url.Values{"csrf": {csrfOf(t, page)}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "The partner&#39;s access was revoked.")
	require.False(t, a.active(after.AccessToken))
}

// Seed 004 §2.1: party B puts `reciprocal` in its authorization response too, not only in its token
// response.
func TestReciprocalInAuthorizationResponse(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	a, b := noRedirectBrowser(t, p.a, "alice"), noRedirectBrowser(t, p.b, "alice")
	back := consentAt(t, b, a.location(t, p.a.url+"/reciprocal/link").String())
	require.Equal(t, p.a.url+"/reciprocal/callback", back.Scheme+"://"+back.Host+back.Path)
	require.NotEmpty(t, back.Query().Get("code"))
	require.Equal(t, "openid profile", back.Query().Get("reciprocal"), "the authorization response: %s", back)
}

// Without -reciprocal-partner the reciprocal pages say what the demo is and how to start it.
func TestReciprocalPagesWithoutPartner(t *testing.T) {
	t.Parallel()
	e := start(t)
	for path, want := range map[string]int{"/reciprocal": http.StatusOK, "/reciprocal/link": http.StatusNotFound, "/reciprocal/callback?code=x": http.StatusNotFound} {
		resp, err := http.Get(e.url + path)
		require.NoError(t, err)
		body := readAll(t, resp)
		require.Equal(t, want, resp.StatusCode, path)
		require.Contains(t, body, "This server has no partner service.", path)
		require.Contains(t, body, "-reciprocal-partner http://127.0.0.1:8081", path)
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"), path)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
