package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"

	"github.com/fosite-contrib/grants/handler/reciprocal"
)

// ReciprocalOptions configure the example's Reciprocal OAuth demo (draft-ietf-oauth-reciprocal-04).
// Two example servers, each naming the other as its partner, play the voice assistant (party A) and the
// music service (party B); each can play either part.
type ReciprocalOptions struct {
	// Partner is the partner example server's issuer URL; empty turns the demo off.
	Partner string
	// AllowLoopbackHTTP lets the two servers call each other over plain http on loopback. DEMO only.
	AllowLoopbackHTTP bool
	// OutboundTimeout bounds each call to the partner; 0 means 10 seconds.
	OutboundTimeout time.Duration
}

func (o ReciprocalOptions) timeout() time.Duration {
	if o.OutboundTimeout <= 0 {
		return 10 * time.Second
	}
	return o.OutboundTimeout
}

// ReciprocalClientID is the client each server registers for its partner (the same ID on both sides).
const ReciprocalClientID = "reciprocal-partner"

// ReciprocalSecret is that client's secret on both sides. DEMO: published in the README.
const ReciprocalSecret = "reciprocal-secret"

// reciprocalScope is what this server, as party B, asks of its partner in return (draft §2.1).
const reciprocalScope = "openid profile"

var reciprocalSecretHash = sync.OnceValues(func() ([]byte, error) {
	return (&fosite.BCrypt{Config: &fosite.Config{HashCost: 10}}).Hash(context.Background(), []byte(ReciprocalSecret))
})

// reciprocalState is the example's reciprocal state: as party A, the partner's token of each user and
// the last grant sent back (reciprocal.Links: in the store, the token sealed, so a link survives
// restarts).
type reciprocalState struct {
	links *reciprocal.Links
}

// partnerLink is what this server, as party A, knows of one user's link with the partner: the partner's
// token to this server (party B's access token), the partner's reciprocal scope request (Asked), and
// the request ID and scopes of the last grant the partner accepted.
type partnerLink = reciprocal.Link

func init() {
	titles["reciprocal"] = "Link with partner"
}

// reciprocalOptions configure Reciprocal OAuth with the partner server as the one partner client.
func (s *Server) reciprocalOptions() reciprocal.Options {
	o := s.opts.Reciprocal
	return reciprocal.Options{
		Scopes: map[string]string{ReciprocalClientID: reciprocalScope},
		Partners: reciprocal.PartnerMap{ReciprocalClientID: {
			TokenURL: s.partnerURL() + "/oauth2/token", ClientID: ReciprocalClientID, ClientSecret: ReciprocalSecret,
		}},
		AllowLoopbackHTTP: o.AllowLoopbackHTTP,
		OutboundTimeout:   o.timeout(),
		// draft §2.1: party B MAY also put `reciprocal` in its authorization response.
		InAuthorizationResponse: true,
		Now:                     s.opts.Now,
		Logger:                  s.log,
		Observer:                s.ops.observer,
		Audit:                   s.kiosk.auditLog, // grants given (party A), codes redeemed (party B)
	}
}

// setupReciprocal registers the partner's client, when there is a partner.
func (s *Server) setupReciprocal(ctx context.Context) error {
	if s.reciprocalOAuth == nil {
		return nil
	}
	hash, err := reciprocalSecretHash()
	if err != nil {
		return err
	}
	if s.reciprocal.links = s.reciprocalOAuth.Links; s.reciprocal.links == nil {
		return errors.New("the store keeps no reciprocal links (it must implement reciprocal.LinkStorage)")
	}
	// The partner's client here. As party A it signs users in with the code flow and pushes
	// reciprocal grants; as party B it redeems our codes. DEMO: client_credentials too, so that a
	// token without a user can be shown to be refused.
	return s.store.SetClient(ctx, &fosite.DefaultClient{
		ID:            ReciprocalClientID,
		Secret:        hash,
		GrantTypes:    []string{"authorization_code", "refresh_token", "client_credentials", string(reciprocal.GrantType)},
		ResponseTypes: []string{"code"},
		RedirectURIs:  []string{s.partnerURL() + "/reciprocal/callback"},
		Scopes:        demoScopes,
	})
}

func (s *Server) reciprocalRoutes(m *http.ServeMux) {
	if s.reciprocalOAuth == nil {
		s.reciprocalOffRoutes(m)
		return
	}
	// More specific than the token route ("/oauth2/token"), so POSTs come here first; every grant
	// other than the reciprocal one goes on to s.token.
	m.Handle("POST /oauth2/token", s.reciprocalOAuth.TokenEndpoint(s.provider, http.HandlerFunc(s.token),
		func() fosite.Session { return s.newSession("", time.Time{}) }))
	m.HandleFunc("GET /reciprocal", s.reciprocalPage)
	m.HandleFunc("GET /reciprocal/link", s.reciprocalLink)
	m.HandleFunc("GET /reciprocal/callback", s.reciprocalCallback)
	m.HandleFunc("POST /reciprocal/grant", s.reciprocalGrant)
	m.HandleFunc("POST /reciprocal/revoke", s.reciprocalRevoke)
	m.HandleFunc("POST /reciprocal/call", s.reciprocalCall)
}

func (s *Server) partnerURL() string { return strings.TrimRight(s.opts.Reciprocal.Partner, "/") }

// partnerClient is the HTTP client of the demo's own calls to the partner: https only (loopback http
// when allowed), no redirects, bounded time.
func (s *Server) partnerClient() *http.Client {
	return reciprocal.NewHTTPClient(s.opts.Reciprocal.timeout(), s.opts.Reciprocal.AllowLoopbackHTTP)
}

// partnerOAuth2 is this server as a client of the partner (party A's side of the code flow).
func (s *Server) partnerOAuth2() *oauth2.Config {
	p := s.partnerURL()
	return &oauth2.Config{
		ClientID: ReciprocalClientID, ClientSecret: ReciprocalSecret, RedirectURL: s.opts.Issuer + "/reciprocal/callback",
		Scopes:   []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: p + "/oauth2/auth", TokenURL: p + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// link returns subject's link with the partner, or nil when there is none (or it cannot be read,
// which is logged: the page then offers to link again).
func (s *Server) link(ctx context.Context, subject string) *partnerLink {
	l, err := s.reciprocal.links.Get(ctx, ReciprocalClientID, subject)
	if err != nil {
		if !errors.Is(err, fosite.ErrNotFound) {
			s.log.ErrorContext(ctx, "reciprocal: reading the link failed", "error", err)
		}
		return nil
	}
	return l
}

// setLink saves subject's link with the partner.
func (s *Server) setLink(ctx context.Context, subject string, l *partnerLink) error {
	l.ClientID, l.Subject = ReciprocalClientID, subject
	return s.reciprocal.links.Save(ctx, l)
}

// reciprocalPage shows both sides for the signed-in user: the link with the partner (party A) and the
// token the partner gave us (party B).
func (s *Server) reciprocalPage(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	s.renderReciprocal(rw, r, who, http.StatusOK, nil)
}

func (s *Server) renderReciprocal(rw http.ResponseWriter, r *http.Request, who *signedIn, status int, extra map[string]interface{}) {
	data := map[string]interface{}{"Who": who, "Partner": s.partnerURL()}
	if l := s.link(r.Context(), who.Subject); l != nil {
		asked := strings.Fields(l.Asked)
		type choice struct {
			scopeView
			Checked bool
		}
		var choices []choice
		for _, sv := range describeScopes(demoScopes) {
			checked := contains(asked, sv.Name)
			if l.RequestID != "" {
				checked = contains(l.Granted, sv.Name)
			}
			choices = append(choices, choice{sv, checked})
		}
		data["Link"], data["Choices"] = l, choices
	}
	if t, err := s.reciprocalOAuth.Tokens.Token(r.Context(), ReciprocalClientID, who.Subject); err == nil {
		data["Held"] = map[string]interface{}{"Scope": t.Extra("scope"), "Expiry": t.Expiry}
	}
	for k, v := range extra {
		data[k] = v
	}
	s.render(rw, status, "reciprocal", data)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// reciprocalLink starts the ordinary code flow at the partner (draft §2, steps A–D). DEMO: the state is
// a MAC of the user, not a one-time value.
func (s *Server) reciprocalLink(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	http.Redirect(rw, r, s.partnerOAuth2().AuthCodeURL(s.cookies.mac("reciprocal state", who.Subject)), http.StatusSeeOther)
}

// reciprocalCallback redeems the partner's code; the token response carries the partner's reciprocal
// scope request (draft §2.1).
func (s *Server) reciprocalCallback(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	q := r.URL.Query()
	if q.Get("state") != s.cookies.mac("reciprocal state", who.Subject) {
		s.renderReciprocal(rw, r, who, http.StatusBadRequest, map[string]interface{}{"Error": "The link request expired or was not yours; start again."})
		return
	}
	if e := q.Get("error"); e != "" {
		s.renderReciprocal(rw, r, who, http.StatusOK, map[string]interface{}{"Error": "The partner said: " + e})
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.partnerClient())
	tok, err := s.partnerOAuth2().Exchange(ctx, q.Get("code"))
	if err != nil {
		s.log.WarnContext(r.Context(), "reciprocal: code exchange at the partner failed", "error", err)
		s.renderReciprocal(rw, r, who, http.StatusBadGateway, map[string]interface{}{"Error": "The partner did not give us a token."})
		return
	}
	asked, _ := tok.Extra(reciprocal.ScopeParameter).(string)
	if asked == "" {
		asked = q.Get(reciprocal.ScopeParameter) // from the authorization response, if the partner put it there
	}
	l := &partnerLink{Token: tok, Asked: asked}
	if old := s.link(r.Context(), who.Subject); old != nil {
		// Linking again keeps what the partner was given; a new grant replaces it (draft §3).
		l.RequestID, l.Granted = old.RequestID, old.Granted
	}
	if err := s.setLink(r.Context(), who.Subject, l); err != nil {
		s.log.ErrorContext(r.Context(), "reciprocal: saving the link failed", "error", err)
		s.renderReciprocal(rw, r, who, http.StatusInternalServerError, map[string]interface{}{"Error": "The link could not be saved; try again."})
		return
	}
	http.Redirect(rw, r, "/reciprocal", http.StatusSeeOther)
}

// reciprocalGrant sends the partner a code for the scopes the user chose (draft §2.2, and §3 when it
// replaces an earlier grant).
func (s *Server) reciprocalGrant(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.renderReciprocal(rw, r, who, http.StatusForbidden, map[string]interface{}{"Error": "The form expired; try again."})
	})
	if !ok {
		return
	}
	l := s.link(r.Context(), who.Subject)
	if l == nil {
		s.renderReciprocal(rw, r, who, http.StatusConflict, map[string]interface{}{"Error": "Link with the partner first."})
		return
	}
	var scopes []string
	for _, sc := range r.PostForm["scope"] {
		if contains(demoScopes, sc) && !contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	sent, err := s.reciprocalOAuth.Issuer.Send(r.Context(), &reciprocal.Offer{
		ClientID: ReciprocalClientID, Scopes: scopes, Session: s.newSession(who.Subject, who.AuthTime),
		TokenURL: s.partnerURL() + "/oauth2/token", PartnerClientID: ReciprocalClientID, PartnerClientSecret: ReciprocalSecret,
		AccessToken: l.Token.AccessToken, Replaces: l.RequestID,
	})
	if err != nil && sent == nil {
		s.log.WarnContext(r.Context(), "reciprocal: grant not accepted", "error", err)
		msg := "The partner could not be reached; try again."
		var pe *reciprocal.PartnerError
		if errors.As(err, &pe) {
			msg = "The partner refused: " + pe.ErrorCode + " " + pe.Description
		}
		s.renderReciprocal(rw, r, who, http.StatusBadGateway, map[string]interface{}{"Error": msg})
		return
	}
	l.RequestID, l.Granted = sent.RequestID, scopes
	if err := s.setLink(r.Context(), who.Subject, l); err != nil {
		// The partner has its access; only our record of it is behind.
		s.log.ErrorContext(r.Context(), "reciprocal: saving the link failed", "error", err)
	}
	s.renderReciprocal(rw, r, who, http.StatusOK, map[string]interface{}{"Notice": "The partner now has access to: " + strings.Join(scopes, " ")})
}

// reciprocalRevoke revokes what the last grant gave the partner.
func (s *Server) reciprocalRevoke(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.renderReciprocal(rw, r, who, http.StatusForbidden, map[string]interface{}{"Error": "The form expired; try again."})
	})
	if !ok {
		return
	}
	l := s.link(r.Context(), who.Subject)
	if l == nil || l.RequestID == "" {
		s.renderReciprocal(rw, r, who, http.StatusOK, map[string]interface{}{"Notice": "The partner had no access."})
		return
	}
	if err := s.reciprocalOAuth.Issuer.Revoke(r.Context(), l.RequestID); err != nil {
		s.log.ErrorContext(r.Context(), "reciprocal: revocation failed", "error", err)
		s.renderReciprocal(rw, r, who, http.StatusInternalServerError, map[string]interface{}{"Error": "Revocation failed; try again."})
		return
	}
	l.RequestID, l.Granted = "", nil
	if err := s.setLink(r.Context(), who.Subject, l); err != nil {
		s.log.ErrorContext(r.Context(), "reciprocal: saving the link failed", "error", err)
	}
	s.renderReciprocal(rw, r, who, http.StatusOK, map[string]interface{}{"Notice": "The partner's access was revoked."})
}

// reciprocalCall uses the token the partner gave us (party B) to call the partner's userinfo endpoint.
func (s *Server) reciprocalCall(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.renderReciprocal(rw, r, who, http.StatusForbidden, map[string]interface{}{"Error": "The form expired; try again."})
	})
	if !ok {
		return
	}
	status, body, err := s.callPartnerUserinfo(r.Context(), who.Subject)
	if err != nil {
		s.renderReciprocal(rw, r, who, http.StatusOK, map[string]interface{}{"Error": err.Error()})
		return
	}
	s.renderReciprocal(rw, r, who, http.StatusOK, map[string]interface{}{"Called": map[string]interface{}{"Status": status, "Body": body}})
}

// callPartnerUserinfo calls the partner's userinfo endpoint with the token the partner gave us for subject.
func (s *Server) callPartnerUserinfo(ctx context.Context, subject string) (int, string, error) {
	tok, err := s.reciprocalOAuth.Tokens.Token(ctx, ReciprocalClientID, subject)
	if errors.Is(err, fosite.ErrNotFound) {
		return 0, "", errors.New("the partner has given us no token for you")
	} else if err != nil {
		return 0, "", errors.New("the stored token could not be read")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.partnerURL()+"/userinfo", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := s.partnerClient().Do(req)
	if err != nil {
		return 0, "", errors.New("the partner could not be reached")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, reciprocal.MaxResponseBytes))
	var pretty map[string]interface{}
	if json.Unmarshal(b, &pretty) == nil {
		if p, err := json.MarshalIndent(pretty, "", "  "); err == nil {
			b = p
		}
	}
	return resp.StatusCode, string(b), nil
}
