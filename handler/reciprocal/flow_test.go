package reciprocal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/compose"
	"github.com/fosite-contrib/grants/handler/reciprocal"
	"github.com/fosite-contrib/grants/internal/grantstest"
	"github.com/fosite-contrib/grants/storage/memory"
)

const (
	partnerID     = "partner"
	partnerSecret = "partner-secret"
	strangerID    = "stranger"
	metaID        = "meta"
)

// party is one composed authorization server with both factories: it is party A for its partner and
// party B for it. Routes: /auth (auto-consents for alice), /token (through TokenEndpoint), /plain-token
// (fosite alone, as an application that forgot TokenEndpoint).
type party struct {
	p        *compose.Provider
	rg       *compose.ReciprocalGrant
	cfg      *fosite.Config
	store    *memory.MemoryStore
	srv      *httptest.Server
	clock    *grantstest.Clock
	partners reciprocal.PartnerMap
	logs     *bytes.Buffer
}

type metaClient struct {
	fosite.DefaultClient
	metadata map[string]any
}

func (c *metaClient) GetMetadata() map[string]any { return c.metadata }

func newParty(t *testing.T, configure func(*reciprocal.Options)) *party {
	t.Helper()
	ctx := context.Background()
	clock := grantstest.NewClock(time.Now().UTC().Truncate(time.Second))
	pt := &party{clock: clock, partners: reciprocal.PartnerMap{}, logs: &bytes.Buffer{}}
	var logMu sync.Mutex
	cfg := &fosite.Config{GlobalSecret: []byte("0123456789abcdef0123456789abcdef"), HashCost: 4}
	opts := reciprocal.Options{
		Scopes:            map[string]string{partnerID: "openid profile", strangerID: "openid"},
		Partners:          pt.partners,
		AllowLoopbackHTTP: true,
		Now:               clock.Now,
		Logger:            slog.New(slog.NewTextHandler(lockedWriter{&logMu, pt.logs}, nil)),
	}
	if configure != nil {
		configure(&opts)
	}
	store := memory.New()
	strategy := &fcompose.CommonStrategy{CoreStrategy: fcompose.NewOAuth2HMACStrategy(cfg)}
	grant := compose.NewReciprocalGrant(opts)
	p := compose.Compose(cfg, store, strategy,
		fcompose.OAuth2AuthorizeExplicitFactory,
		fcompose.OAuth2ClientCredentialsGrantFactory,
		fcompose.OAuth2TokenIntrospectionFactory,
		fcompose.OAuth2TokenRevocationFactory,
		grant.Factory,
		grant.ScopeFactory,
	)
	hash, err := (&fosite.BCrypt{Config: cfg}).Hash(ctx, []byte(partnerSecret))
	require.NoError(t, err)
	grants := []string{"authorization_code", "client_credentials", string(reciprocal.GrantType)}
	for _, c := range []fosite.Client{
		&fosite.DefaultClient{ID: partnerID, Secret: hash, GrantTypes: grants, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"https://partner.example/cb"}, Scopes: []string{"openid", "profile", "music"}},
		&fosite.DefaultClient{ID: strangerID, Secret: hash, GrantTypes: grants, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"https://stranger.example/cb"}, Scopes: []string{"openid", "profile"}},
		&fosite.DefaultClient{ID: "public", Public: true, GrantTypes: grants, Scopes: []string{"openid"}},
		&metaClient{DefaultClient: fosite.DefaultClient{ID: metaID, Secret: hash, GrantTypes: grants, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"https://meta.example/cb"}, Scopes: []string{"openid"}}, metadata: map[string]any{reciprocal.MetadataScopeKey: "music"}},
	} {
		require.NoError(t, store.SetClient(ctx, c))
	}
	newSession := func() fosite.Session { return grantstest.Session("") }
	mux := http.NewServeMux()
	plain := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ar, err := p.NewAccessRequest(r.Context(), r, newSession())
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
	mux.Handle("/token", grant.TokenEndpoint(p, plain, newSession))
	mux.Handle("/plain-token", plain)
	mux.HandleFunc("/auth", func(rw http.ResponseWriter, r *http.Request) {
		ar, err := p.NewAuthorizeRequest(r.Context(), r)
		if err != nil {
			p.WriteAuthorizeError(r.Context(), rw, ar, err)
			return
		}
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		resp, err := p.NewAuthorizeResponse(r.Context(), ar, grantstest.Session("alice"))
		if err != nil {
			p.WriteAuthorizeError(r.Context(), rw, ar, err)
			return
		}
		p.WriteAuthorizeResponse(r.Context(), rw, ar, resp)
	})
	pt.p, pt.rg, pt.cfg, pt.store = p, grant, cfg, store
	pt.srv = httptest.NewServer(mux)
	t.Cleanup(pt.srv.Close)
	return pt
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// pairUp makes a and b each other's partner.
func pairUp(a, b *party) {
	a.partners[partnerID] = reciprocal.Partner{TokenURL: b.srv.URL + "/token", ClientID: partnerID, ClientSecret: partnerSecret}
	b.partners[partnerID] = reciprocal.Partner{TokenURL: a.srv.URL + "/token", ClientID: partnerID, ClientSecret: partnerSecret}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize runs the code flow at pt for client and returns the redirect's query.
func (pt *party) authorize(t *testing.T, clientID, redirect, scope string) url.Values {
	t.Helper()
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {scope}, "state": {"state-123456789"}, "redirect_uri": {redirect}}
	resp, err := noRedirects.Get(pt.srv.URL + "/auth?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	loc, err := resp.Location()
	require.NoError(t, err, "status %d", resp.StatusCode)
	return loc.Query()
}

func (pt *party) post(t *testing.T, path string, form url.Values, user, password string) (int, map[string]interface{}) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, pt.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]interface{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

// tokenFor gets an access token from pt for clientID, for alice, with the code flow.
func (pt *party) tokenFor(t *testing.T, clientID, redirect string) map[string]interface{} {
	t.Helper()
	code := pt.authorize(t, clientID, redirect, "openid").Get("code")
	status, body := pt.post(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}, clientID, partnerSecret)
	require.Equal(t, http.StatusOK, status, body)
	return body
}

func reciprocalForm(clientID, token, code string) url.Values {
	return url.Values{"grant_type": {string(reciprocal.GrantType)}, "client_id": {clientID}, "access_token": {token}, "code": {code}}
}

func (pt *party) grant(bURL, bToken string, scopes ...string) *reciprocal.Offer {
	return &reciprocal.Offer{ClientID: partnerID, Scopes: scopes, Session: grantstest.Session("alice"),
		TokenURL: bURL + "/token", PartnerClientID: partnerID, PartnerClientSecret: partnerSecret, AccessToken: bToken}
}

func TestScopeParameter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		inAuthz       bool
		client, scope string
		redirect      string
	}{
		{"configured client", false, partnerID, "openid profile", "https://partner.example/cb"},
		{"configured client, also in the authorization response", true, partnerID, "openid profile", "https://partner.example/cb"},
		{"client metadata", true, metaID, "music", "https://meta.example/cb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newParty(t, func(c *reciprocal.Options) { c.InAuthorizationResponse = tc.inAuthz })
			q := b.authorize(t, tc.client, tc.redirect, "openid")
			if tc.inAuthz {
				require.Equal(t, tc.scope, q.Get("reciprocal"), "draft §2.1: in the authorization response")
			} else {
				require.Empty(t, q["reciprocal"])
			}
			status, body := b.post(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {tc.redirect}}, tc.client, partnerSecret)
			require.Equal(t, http.StatusOK, status, body)
			require.Equal(t, tc.scope, body["reciprocal"], "draft §2.1: in the token response")
		})
	}

	t.Run("not for other grants, nor for clients without a scope, nor a malformed scope", func(t *testing.T) {
		t.Parallel()
		b := newParty(t, func(c *reciprocal.Options) { c.Scopes = map[string]string{partnerID: "bad\"scope"} })
		status, body := b.post(t, "/token", url.Values{"grant_type": {"client_credentials"}}, partnerID, partnerSecret)
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, "reciprocal")
		body = b.tokenFor(t, strangerID, "https://stranger.example/cb")
		require.NotContains(t, body, "reciprocal")
		body = b.tokenFor(t, partnerID, "https://partner.example/cb")
		require.NotContains(t, body, "reciprocal", "a malformed scope is left out, not sent")
		require.NotEmpty(t, body["access_token"], "and the tokens are still issued")
		require.Contains(t, b.logs.String(), "reciprocal scope not added")
	})
}

func TestGrantHandlerEdges(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, nil), newParty(t, nil)
	pairUp(a, b)
	bToken := b.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)
	strangerToken := b.tokenFor(t, strangerID, "https://stranger.example/cb")["access_token"].(string)

	t.Run("a client with the grant type that is no partner", func(t *testing.T) {
		status, body := b.post(t, "/token", reciprocalForm(strangerID, strangerToken, "c"), strangerID, partnerSecret)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "unauthorized_client", body["error"])
		require.Contains(t, body["error_description"], "not configured as a reciprocal partner")
	})

	t.Run("a public client", func(t *testing.T) {
		form := reciprocalForm("public", bToken, "c")
		status, body := b.post(t, "/token", form, "", "")
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "invalid_client", body["error"])
	})

	t.Run("without TokenEndpoint the misconfiguration is a clear server_error", func(t *testing.T) {
		status, body := b.post(t, "/plain-token", reciprocalForm(partnerID, "x", "c"), partnerID, partnerSecret)
		require.Equal(t, http.StatusBadRequest, status, "the request is still checked first")
		require.Equal(t, "invalid_grant", body["error"])

		g := a.grant(b.srv.URL, bToken, "openid")
		g.TokenURL = b.srv.URL + "/plain-token"
		_, err := a.rg.Issuer.Send(context.Background(), g)
		var pe *reciprocal.PartnerError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, http.StatusInternalServerError, pe.StatusCode)
		require.Equal(t, "server_error", pe.ErrorCode)
	})

	t.Run("other grants and methods pass through TokenEndpoint", func(t *testing.T) {
		status, body := b.post(t, "/token", url.Values{"grant_type": {"client_credentials"}}, partnerID, partnerSecret)
		require.Equal(t, http.StatusOK, status)
		require.NotEmpty(t, body["access_token"])
		resp, err := http.Get(b.srv.URL + "/token")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "fosite answers the GET")
	})

	t.Run("the grant appears in discovery", func(t *testing.T) {
		require.Contains(t, b.p.GrantTypesSupported(), string(reciprocal.GrantType))
	})

	t.Run("a partner that redirects is not followed", func(t *testing.T) {
		hits := 0
		redirector := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			hits++
			http.Redirect(rw, r, a.srv.URL+"/token", http.StatusTemporaryRedirect)
		}))
		defer redirector.Close()
		c := newParty(t, nil)
		c.partners[partnerID] = reciprocal.Partner{TokenURL: redirector.URL, ClientID: partnerID, ClientSecret: partnerSecret}
		cToken := c.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)
		status, body := c.post(t, "/token", reciprocalForm(partnerID, cToken, "c"), partnerID, partnerSecret)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "temporarily_unavailable", body["error"])
		require.Equal(t, 1, hits)
	})

	t.Run("a partner answering garbage", func(t *testing.T) {
		garbage := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			_, _ = rw.Write(bytes.Repeat([]byte("{"), 2<<20))
		}))
		defer garbage.Close()
		c := newParty(t, nil)
		c.partners[partnerID] = reciprocal.Partner{TokenURL: garbage.URL, ClientID: partnerID, ClientSecret: partnerSecret}
		cToken := c.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)
		status, body := c.post(t, "/token", reciprocalForm(partnerID, cToken, "c"), partnerID, partnerSecret)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "temporarily_unavailable", body["error"])
	})

	t.Run("a partner on plain http, not loopback", func(t *testing.T) {
		c := newParty(t, nil)
		c.partners[partnerID] = reciprocal.Partner{TokenURL: "http://partner.example/token", ClientID: partnerID, ClientSecret: partnerSecret}
		cToken := c.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)
		status, body := c.post(t, "/token", reciprocalForm(partnerID, cToken, "c"), partnerID, partnerSecret)
		require.Equal(t, http.StatusInternalServerError, status)
		require.Equal(t, "server_error", body["error"])
	})

	t.Run("the issuer checks its input", func(t *testing.T) {
		ctx := context.Background()
		iss := a.rg.Issuer
		for name, mut := range map[string]func(*reciprocal.Offer){
			"no subject":           func(g *reciprocal.Offer) { g.Session = grantstest.Session("") },
			"scope not allowed":    func(g *reciprocal.Offer) { g.Scopes = []string{"admin"} },
			"unknown client":       func(g *reciprocal.Offer) { g.ClientID = "nobody" },
			"no access token":      func(g *reciprocal.Offer) { g.AccessToken = "" },
			"insecure partner URL": func(g *reciprocal.Offer) { g.TokenURL = "http://partner.example/token" },
		} {
			g := a.grant(b.srv.URL, bToken, "openid")
			mut(g)
			_, err := iss.Send(ctx, g)
			require.Error(t, err, name)
		}
	})
}

// failingReceiver refuses to keep tokens.
type failingReceiver struct{}

func (failingReceiver) ReceiveReciprocalToken(context.Context, *reciprocal.Received) error {
	return errors.New("disk full")
}

func TestReceiverFailure(t *testing.T) {
	t.Parallel()
	a := newParty(t, nil)
	b := newParty(t, func(c *reciprocal.Options) { c.Receiver = failingReceiver{} })
	pairUp(a, b)
	require.Nil(t, b.rg.Tokens, "a custom receiver replaces the store")
	bToken := b.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)
	_, err := a.rg.Issuer.Send(context.Background(), a.grant(b.srv.URL, bToken, "openid"))
	var pe *reciprocal.PartnerError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, http.StatusInternalServerError, pe.StatusCode)
	require.Equal(t, "server_error", pe.ErrorCode)
	require.Contains(t, pe.Description, "send a new code")
	require.NotContains(t, b.logs.String(), bToken, "no token in the logs")
}

// TestConcurrentGrants: concurrent pushes for one user all succeed and leave B with one of the tokens,
// which works at A.
func TestConcurrentGrants(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, nil), newParty(t, nil)
	pairUp(a, b)
	bToken := b.tokenFor(t, partnerID, "https://partner.example/cb")["access_token"].(string)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.rg.Issuer.Send(context.Background(), a.grant(b.srv.URL, bToken, "openid"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	held, err := b.rg.Tokens.Token(context.Background(), partnerID, "alice")
	require.NoError(t, err)
	_, ar, err := a.p.IntrospectToken(context.Background(), held.AccessToken, fosite.AccessToken, grantstest.Session(""))
	require.NoError(t, err)
	require.Equal(t, "alice", ar.GetSession().GetSubject())
	require.Equal(t, partnerID, ar.GetClient().GetID())
	require.NotContains(t, b.logs.String()+a.logs.String(), held.AccessToken, "no token in the logs")
}
