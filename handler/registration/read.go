package registration

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// metadataRATHash is the client metadata key of the registration access token's SHA-256 digest (hex).
// The token has 256 random bits, so a plain digest suffices.
const metadataRATHash = "registration_access_token_sha256"

func tokenHash(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}

func (e *Endpoint) clientURI(id string) string {
	return strings.TrimRight(e.URL, "/") + "/" + url.PathEscape(id)
}

// read serves the client read request of RFC 7592 §2.1: GET registration_client_uri with the
// registration access token as a Bearer credential. An unknown client and a wrong token get the same
// 401 (§2.1), and count against the caller's address in Limiter.
func (e *Endpoint) read(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := ""
	if base, err := url.Parse(e.URL); err == nil {
		if rest, ok := strings.CutPrefix(r.URL.Path, strings.TrimRight(base.Path, "/")+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
			id = rest
		}
	}
	if id == "" {
		err := errInvalidRequest.WithHint("Read a registration with a GET of its registration_client_uri.")
		err.CodeField = http.StatusNotFound
		e.writeError(rw, r, err)
		return
	}
	c, err := e.checkRegistrationToken(ctx, r, id)
	if err != nil {
		e.writeError(rw, r, err)
		return
	}
	res := &Response{ClientID: c.GetID(), RegistrationClientURI: e.clientURI(c.GetID()),
		Metadata: metadataOf(c, e.Config.GetRegistrationPolicy(ctx))}
	if md := metadataMap(c); md != nil {
		if f, ok := md["client_id_issued_at"].(float64); ok {
			res.ClientIDIssuedAt = time.Unix(int64(f), 0)
		}
	}
	writeJSON(rw, http.StatusOK, res)
}

// checkRegistrationToken returns the client whose registration access token the request carries.
func (e *Endpoint) checkRegistrationToken(ctx context.Context, r *http.Request, id string) (fosite.Client, error) {
	addr, now := remoteHost(r), clock.Now(e.Now)
	if err := e.Limiter.Allow(ctx, pending.Caller{Address: addr}, now); errors.Is(err, pending.ErrTooManyAttempts) {
		return nil, pending.ErrTooManyAttempts.WithHint("Too many requests with a wrong token were sent recently.")
	} else if err != nil {
		return nil, err
	}
	token, ok := bearer(r)
	if !ok {
		return nil, ErrInvalidToken.WithHint("Send the registration access token as a Bearer credential (RFC 7592 §2.1).")
	}
	c, err := e.Storage.GetClient(ctx, id)
	if err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return nil, rfc6749.ServerError(err)
	}
	want := ""
	if c != nil {
		want, _ = metadataMap(c)[metadataRATHash].(string)
	}
	got := tokenHash(token)
	// Compare even when there is nothing to compare with, so that an unknown client takes as long.
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || want == "" {
		if err := e.Limiter.Fail(ctx, pending.Caller{Address: addr}, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidToken
	}
	return c, nil
}

func metadataMap(c fosite.Client) map[string]any {
	if m, ok := c.(interface{ GetMetadata() map[string]any }); ok {
		return m.GetMetadata()
	}
	return nil
}

// metadataOf rebuilds the registered metadata of a stored client (RFC 7592 §3).
func metadataOf(c fosite.Client, p *Policy) *Metadata {
	md := metadataMap(c)
	str := func(k string) string { s, _ := md[k].(string); return s }
	m := &Metadata{
		RedirectURIs:                          c.GetRedirectURIs(),
		GrantTypes:                            c.GetGrantTypes(),
		Scope:                                 strings.Join(c.GetScopes(), " "),
		ClientName:                            str("client_name"),
		SoftwareID:                            str("software_id"),
		SoftwareVersion:                       str("software_version"),
		BackchannelTokenDeliveryMode:          str("backchannel_token_delivery_mode"),
		BackchannelClientNotificationEndpoint: str("backchannel_client_notification_endpoint"),
		BackchannelAuthenticationRequestSigningAlg: str("backchannel_authentication_request_signing_alg"),
	}
	m.BackchannelUserCodeParameter, _ = md["backchannel_user_code_parameter"].(bool)
	m.DPoPBoundAccessTokens, _ = md[dpop.MetaBoundAccessTokens].(bool)
	if contacts, ok := md["contacts"].([]any); ok {
		for _, v := range contacts {
			if s, ok := v.(string); ok {
				m.Contacts = append(m.Contacts, s)
			}
		}
	}
	// fosite's DefaultClient reports "code" when it has no response types: keep them only for the
	// redirect-based grants, which are the only ones that have any (RFC 7591 §2.1).
	if slices.Contains(m.GrantTypes, "authorization_code") || slices.Contains(m.GrantTypes, "implicit") {
		m.ResponseTypes = c.GetResponseTypes()
	}
	if o, ok := c.(fosite.OpenIDConnectClient); ok {
		m.TokenEndpointAuthMethod = o.GetTokenEndpointAuthMethod()
		m.TokenEndpointAuthSigningAlg = o.GetTokenEndpointAuthSigningAlgorithm()
		m.JWKSURI = o.GetJSONWebKeysURI()
		if ks := o.GetJSONWebKeys(); ks != nil {
			m.JWKS = &jose.JSONWebKeySet{Keys: ks.Keys}
		}
	}
	if p != nil {
		for name := range p.Extensions {
			if v, ok := md[name]; ok && !knownField(name) {
				if m.Extensions == nil {
					m.Extensions = map[string]any{}
				}
				m.Extensions[name] = v
			}
		}
	}
	return m
}
