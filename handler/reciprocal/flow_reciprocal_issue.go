package reciprocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/fosite-contrib/grants/audit"
	"github.com/fosite-contrib/grants/internal/clock"
)

// IssuerStorage is what party A's issuer writes: authorization codes, and the revocation of what they
// issued.
type IssuerStorage interface {
	oauth2.AuthorizeCodeStorage
	oauth2.TokenRevocationStorage
}

// Issuer is party A's half of the grant (draft §2.2.1–2.2.2, §3): once the user consented to give party
// B access, it mints an authorization code for party B's client at party A and pushes it to party B's
// token endpoint with party B's access token. Party B redeems the code at party A's ordinary token
// endpoint (fosite's authorization code grant), which enforces what the code is bound to: party B's
// client ID, single use (a replay revokes what the code issued), and the code's short lifespan.
type Issuer struct {
	// Codes is party A's authorization code strategy; Storage keeps the codes; Clients finds party B's
	// client at party A.
	Codes   oauth2.AuthorizeCodeStrategy
	Storage IssuerStorage
	Clients fosite.ClientManager
	// HTTPClient makes the push; nil means NewHTTPClient with the configured timeout and loopback policy.
	HTTPClient *http.Client
	Config     interface {
		CodeLifespanProvider
		OutboundTimeoutProvider
		LoopbackHTTPProvider
		fosite.ScopeStrategyProvider
	}
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives sent and failed grants (never codes or tokens); nil discards.
	Logger *slog.Logger
	// Audit, when not nil, records each grant party B accepted and each revocation (see Options.Audit).
	Audit audit.Sink
}

// Offer is one reciprocal grant party A sends: the access it offers party B.
type Offer struct {
	// ClientID is party B's client ID at party A: the only client that can redeem the code.
	ClientID string
	// Scopes are the scopes the user consented to give party B (draft §2.2.1); each must be allowed to
	// that client.
	Scopes []string
	// Audience is the granted audience, if any.
	Audience []string
	// Session is the user's session at party A, with the subject set: the tokens party B gets carry it.
	// It must be the session type party A's token endpoint uses.
	Session fosite.Session

	// TokenURL is party B's token endpoint.
	TokenURL string
	// PartnerClientID and PartnerClientSecret are party A's credentials at party B, sent with HTTP Basic
	// authentication (RFC 6749 §2.3.1); PartnerClientID is also the client_id parameter.
	PartnerClientID     string
	PartnerClientSecret string
	// AccessToken is the access token party B issued to party A for this user.
	AccessToken string

	// Replaces, when set, is the request ID of an earlier grant to the same client and user (draft §3,
	// a scope update): once party B accepted this one, the tokens the earlier one issued are revoked.
	Replaces string
}

// Sent describes a grant party B accepted.
type Sent struct {
	// RequestID is the request ID of the code, and of every token party B redeems it for: keep it to
	// revoke them (Revoke) or to replace the grant (Offer.Replaces).
	RequestID string
	// ExpiresAt is when the code expires.
	ExpiresAt time.Time
}

// PartnerError is party B's refusal of a grant: its status and RFC 6749 §5.2 error.
type PartnerError struct {
	StatusCode  int
	ErrorCode   string
	Description string
}

func (e *PartnerError) Error() string {
	s := fmt.Sprintf("reciprocal: party B answered %d", e.StatusCode)
	if e.ErrorCode != "" {
		s += " " + e.ErrorCode
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Send mints the code and pushes it to party B (draft §2.2.2). It returns nil error only when party B
// answered 200; then party B has redeemed the code. On any failure the code is invalidated, so nothing
// usable is left behind, and the error says what happened (*PartnerError for a refusal by party B).
// A retry must call Send again, with a new code: presenting a spent code again would be a replay.
func (i *Issuer) Send(ctx context.Context, g *Offer) (*Sent, error) {
	if g == nil || g.Session == nil || g.Session.GetSubject() == "" {
		return nil, errors.New("reciprocal: the grant needs the user's session, with a subject")
	}
	if g.AccessToken == "" || g.PartnerClientID == "" {
		return nil, errors.New("reciprocal: the grant needs party B's access token and party A's client ID at party B")
	}
	allow := i.Config.GetReciprocalAllowLoopbackHTTP(ctx)
	if err := CheckEndpointString(g.TokenURL, allow); err != nil {
		return nil, err
	}
	client, err := i.Clients.GetClient(ctx, g.ClientID)
	if err != nil {
		return nil, fmt.Errorf("reciprocal: party B's client %q at party A: %w", g.ClientID, err)
	}
	if !client.GetGrantTypes().Has("authorization_code") {
		return nil, fmt.Errorf("reciprocal: party B's client %q may not use the authorization_code grant to redeem the code", g.ClientID)
	}
	strategy := i.Config.GetScopeStrategy(ctx)
	for _, s := range g.Scopes {
		if !strategy(client.GetScopes(), s) {
			return nil, fmt.Errorf("reciprocal: the scope %q is not allowed to client %q", s, g.ClientID)
		}
	}

	now := clock.Now(i.Now)
	lifespan := i.Config.GetReciprocalCodeLifespan(ctx)
	req := fosite.NewRequest()
	req.RequestedAt = now
	req.Client = client
	req.Session = g.Session
	req.SetRequestedScopes(g.Scopes)
	req.SetRequestedAudience(g.Audience)
	for _, s := range g.Scopes {
		req.GrantScope(s)
	}
	for _, a := range g.Audience {
		req.GrantAudience(a)
	}
	expires := now.Add(lifespan).Round(time.Second)
	g.Session.SetExpiresAt(fosite.AuthorizeCode, expires)
	code, sig, err := i.Codes.GenerateAuthorizeCode(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("reciprocal: generate code: %w", err)
	}
	if err := i.Storage.CreateAuthorizeCodeSession(ctx, sig, req.Sanitize(nil)); err != nil {
		return nil, fmt.Errorf("reciprocal: store code: %w", err)
	}

	if err := i.push(ctx, g, code); err != nil {
		// Leave nothing redeemable behind. If party B did redeem it before failing, invalidating it
		// again changes nothing.
		if ierr := i.Storage.InvalidateAuthorizeCodeSession(ctx, sig); ierr != nil && !errors.Is(ierr, fosite.ErrNotFound) {
			err = errors.Join(err, fmt.Errorf("reciprocal: invalidate code: %w", ierr))
		}
		i.log(ctx, slog.LevelWarn, "reciprocal grant refused", g, slog.String("error", err.Error()))
		return nil, err
	}
	i.log(ctx, slog.LevelInfo, "reciprocal grant sent", g, slog.String("request_id", req.GetID()))
	i.auditSent(ctx, g, req.GetID())
	if g.Replaces != "" {
		if err := i.revoke(ctx, g.Replaces, "replaced"); err != nil {
			return &Sent{RequestID: req.GetID(), ExpiresAt: expires}, fmt.Errorf("reciprocal: the grant was sent, but the one it replaces was not revoked: %w", err)
		}
	}
	return &Sent{RequestID: req.GetID(), ExpiresAt: expires}, nil
}

// push POSTs the reciprocal grant to party B's token endpoint (draft §2.2.2).
func (i *Issuer) push(ctx context.Context, g *Offer, code string) error {
	client := i.HTTPClient
	timeout := i.Config.GetReciprocalOutboundTimeout(ctx)
	if client == nil {
		client = NewHTTPClient(timeout, i.Config.GetReciprocalAllowLoopbackHTTP(ctx))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	form := url.Values{
		"grant_type":   {string(GrantType)},
		"code":         {code},
		"client_id":    {g.PartnerClientID},
		"access_token": {g.AccessToken},
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, g.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("reciprocal: %w", err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/json")
	if g.PartnerClientSecret != "" {
		// RFC 6749 §2.3.1: the credentials are form-encoded before they are put in the header.
		r.SetBasicAuth(url.QueryEscape(g.PartnerClientID), url.QueryEscape(g.PartnerClientSecret))
	}
	resp, err := client.Do(r)
	if err != nil {
		return fmt.Errorf("reciprocal: party B's token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return fmt.Errorf("reciprocal: read party B's answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	pe := &PartnerError{StatusCode: resp.StatusCode}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil {
		pe.ErrorCode, pe.Description = e.Error, e.Description
	}
	return pe
}

// Revoke revokes the access and refresh tokens issued from the grant requestID (Sent.RequestID), at party
// A: the token party B holds stops working. It is not an error when nothing was issued.
func (i *Issuer) Revoke(ctx context.Context, requestID string) error {
	return i.revoke(ctx, requestID, "revoked")
}

// revoke is Revoke, audited with reason.
func (i *Issuer) revoke(ctx context.Context, requestID, reason string) error {
	errA := i.Storage.RevokeAccessToken(ctx, requestID)
	if errors.Is(errA, fosite.ErrNotFound) {
		errA = nil
	}
	errR := i.Storage.RevokeRefreshToken(ctx, requestID)
	if errors.Is(errR, fosite.ErrNotFound) {
		errR = nil
	}
	if err := errors.Join(errA, errR); err != nil {
		return err
	}
	i.auditRevoked(ctx, requestID, reason)
	return nil
}

func (i *Issuer) log(ctx context.Context, level slog.Level, msg string, g *Offer, attrs ...slog.Attr) {
	if i.Logger != nil {
		i.Logger.LogAttrs(ctx, level, msg, append([]slog.Attr{slog.String("client_id", g.ClientID), slog.String("partner_token_url", g.TokenURL)}, attrs...)...)
	}
}
