package registration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/handler/pending"
	"github.com/fosite-contrib/grants/internal/clock"
	"github.com/fosite-contrib/grants/internal/rfc6749"
)

// Storage keeps registered clients. CreateClient stores a new client and fails, storing nothing, when a
// client with that ID exists; GetClient is fosite's (fosite.ErrNotFound for an unknown ID). The SQL
// store of this module implements it, and so does the memory store.
type Storage interface {
	CreateClient(ctx context.Context, c fosite.Client) error
	GetClient(ctx context.Context, id string) (fosite.Client, error)
}

// Config is what the endpoint reads: the hasher of client secrets (fosite's, so that fosite can check
// them) and the registration policy.
type Config interface {
	fosite.GetSecretsHashingProvider
	PolicyProvider
}

// Endpoint is the client registration endpoint (RFC 7591 §3). It is an http.Handler: mount it at the URL
// published as registration_endpoint (RFC 8414 §2).
//
// Every request needs an initial access token (RFC 7591 §3) that Tokens accepts; a nil Tokens refuses
// every request. Failed token checks count against the caller's address in Limiter, if set.
type Endpoint struct {
	Storage Storage
	Tokens  TokenVerifier
	Config  Config
	// URL is the endpoint's full URL. When set, the endpoint also serves RFC 7592's read: each
	// registration returns a registration_access_token and a registration_client_uri (URL/<client_id>),
	// where a GET with that token returns the client's current registration. Empty turns reading off.
	URL string
	// Limiter bounds requests with a wrong or missing initial access token, per client address and in
	// all; nil means no limit.
	Limiter *pending.Limiter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of client IDs and secrets; nil means crypto/rand.
	Rand io.Reader
	// Logger receives one line per registration and per refused request; nil discards. Tokens and
	// secrets are never logged.
	Logger *slog.Logger
}

// maxBody bounds the registration request body.
const maxBody = 64 << 10

// Response is the client information response (RFC 7591 §3.2.1): the client's credentials and all its
// registered metadata.
type Response struct {
	ClientID         string
	ClientIDIssuedAt time.Time
	// ClientSecret is the plain secret, returned once; only the hash is stored. Empty for the
	// private_key_jwt and none methods.
	ClientSecret string
	// RegistrationAccessToken and RegistrationClientURI are RFC 7592's (§3), set when the endpoint has
	// a URL: the token (returned once; only its hash is stored) reads the registration at the URI.
	RegistrationAccessToken string
	RegistrationClientURI   string
	Metadata                *Metadata
}

// MarshalJSON encodes the response as RFC 7591 §3.2.1 shows it. client_secret_expires_at is 0: secrets
// do not expire.
func (r *Response) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(r.Metadata)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	out["client_id"] = r.ClientID
	out["client_id_issued_at"] = r.ClientIDIssuedAt.Unix()
	if r.ClientSecret != "" {
		out["client_secret"] = r.ClientSecret
		out["client_secret_expires_at"] = 0
	}
	if r.RegistrationAccessToken != "" {
		out["registration_access_token"] = r.RegistrationAccessToken
	}
	if r.RegistrationClientURI != "" {
		out["registration_client_uri"] = r.RegistrationClientURI
	}
	return json.Marshal(out)
}

func (e *Endpoint) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// ServeHTTP handles a client registration request (RFC 7591 §3.1): a POST of client metadata as JSON,
// with the initial access token as a Bearer credential. It answers 201 with the client information
// (§3.2.1), 400 with invalid_redirect_uri or invalid_client_metadata (§3.2.2), 401 with invalid_token
// (RFC 6750 §3.1), or 429 once the caller sent too many wrong tokens.
func (e *Endpoint) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch {
	case r.Method == http.MethodGet && e.URL != "":
		e.read(rw, r)
		return
	case r.Method != http.MethodPost:
		rw.Header().Set("Allow", http.MethodPost)
		hint := "Register with a POST request."
		if e.URL != "" {
			rw.Header().Set("Allow", "GET, POST")
			hint = "Register with a POST request; read a registration with a GET of its registration_client_uri."
		}
		err := errInvalidRequest.WithHint(hint)
		err.CodeField = http.StatusMethodNotAllowed
		e.writeError(rw, r, err)
		return
	}
	addr := remoteHost(r)
	if err := e.checkToken(ctx, r, addr); err != nil {
		e.writeError(rw, r, err)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		e.writeError(rw, r, errInvalidRequest.WithHint("The client metadata must be sent as application/json (RFC 7591 §3.1)."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBody))
	if err != nil {
		e.writeError(rw, r, errInvalidRequest.WithHintf("The request body could not be read or is larger than %d bytes.", maxBody))
		return
	}
	m, err := e.Config.GetRegistrationPolicy(ctx).Parse(body)
	if err != nil {
		e.writeError(rw, r, err)
		return
	}
	res, err := e.Register(ctx, m)
	if err != nil {
		e.writeError(rw, r, err)
		return
	}
	e.log().InfoContext(ctx, "registered client", "client_id", res.ClientID, "grant_types", m.GrantTypes,
		"token_endpoint_auth_method", m.TokenEndpointAuthMethod, "software_id", m.SoftwareID, "remote", addr)
	writeJSON(rw, http.StatusCreated, res)
}

// checkToken checks the initial access token (RFC 7591 §3) under the attempt limit.
func (e *Endpoint) checkToken(ctx context.Context, r *http.Request, addr string) error {
	now := clock.Now(e.Now)
	if err := e.Limiter.Allow(ctx, pending.Caller{Address: addr}, now); errors.Is(err, pending.ErrTooManyAttempts) {
		return pending.ErrTooManyAttempts.WithHint("Too many requests with a wrong initial access token were sent recently.")
	} else if err != nil {
		return err
	}
	token, ok := bearer(r)
	var err error
	switch {
	case !ok:
		err = ErrInvalidToken.WithHint("Send the initial access token as a Bearer credential in the Authorization header (RFC 6750 §2.1).")
	case e.Tokens == nil:
		err = ErrInvalidToken
	default:
		err = e.Tokens.VerifyInitialAccessToken(ctx, token)
	}
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrInvalidToken) {
		return rfc6749.ServerError(err)
	}
	if ferr := e.Limiter.Fail(ctx, pending.Caller{Address: addr}, now); ferr != nil {
		return ferr
	}
	return err
}

// Register stores a new client with validated metadata (from Policy.Parse) and returns its client
// information: a random client_id of 144 bits and, for the client_secret_basic and client_secret_post
// methods, a random secret of 256 bits, stored only as the hash of Config's hasher.
func (e *Endpoint) Register(ctx context.Context, m *Metadata) (*Response, error) {
	id, err := e.random(18)
	if err != nil {
		return nil, err
	}
	res := &Response{ClientID: id, ClientIDIssuedAt: clock.Now(e.Now).Truncate(time.Second), Metadata: m}
	dc := &fosite.DefaultClient{
		ID:            id,
		RedirectURIs:  m.RedirectURIs,
		GrantTypes:    m.GrantTypes,
		ResponseTypes: m.ResponseTypes,
		Scopes:        strings.Fields(m.Scope),
		Public:        m.TokenEndpointAuthMethod == AuthMethodNone,
	}
	if m.TokenEndpointAuthMethod == AuthMethodClientSecretBasic || m.TokenEndpointAuthMethod == AuthMethodClientSecretPost {
		if res.ClientSecret, err = e.random(32); err != nil {
			return nil, err
		}
		if dc.Secret, err = e.Config.GetSecretsHasher(ctx).Hash(ctx, []byte(res.ClientSecret)); err != nil {
			return nil, rfc6749.ServerError(err)
		}
	}
	meta, err := storedMetadata(m, res.ClientIDIssuedAt)
	if err != nil {
		return nil, err
	}
	if e.URL != "" {
		if res.RegistrationAccessToken, err = e.random(32); err != nil {
			return nil, err
		}
		res.RegistrationClientURI = e.clientURI(id)
		meta[metadataRATHash] = tokenHash(res.RegistrationAccessToken)
	}
	c := &Client{
		DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{
			DefaultClient:                     dc,
			JSONWebKeysURI:                    m.JWKSURI,
			JSONWebKeys:                       m.JWKS,
			TokenEndpointAuthMethod:           m.TokenEndpointAuthMethod,
			TokenEndpointAuthSigningAlgorithm: m.TokenEndpointAuthSigningAlg,
		},
		Metadata: meta,
	}
	if err := e.Storage.CreateClient(ctx, c); err != nil {
		return nil, rfc6749.ServerError(err)
	}
	return res, nil
}

// storedMetadata is the metadata fosite's client has no field for, as JSON types.
func storedMetadata(m *Metadata, issuedAt time.Time) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range m.Extensions {
		out[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("client_name", m.ClientName)
	set("software_id", m.SoftwareID)
	set("software_version", m.SoftwareVersion)
	set("backchannel_token_delivery_mode", m.BackchannelTokenDeliveryMode)
	set("backchannel_client_notification_endpoint", m.BackchannelClientNotificationEndpoint)
	set("backchannel_authentication_request_signing_alg", m.BackchannelAuthenticationRequestSigningAlg)
	if m.BackchannelTokenDeliveryMode != "" {
		out["backchannel_user_code_parameter"] = m.BackchannelUserCodeParameter
	}
	if m.DPoPBoundAccessTokens {
		out[dpop.MetaBoundAccessTokens] = true
	}
	if len(m.Contacts) > 0 {
		out["contacts"] = m.Contacts
	}
	out["client_id_issued_at"] = issuedAt.Unix()
	b, err := json.Marshal(out)
	if err != nil {
		return nil, rfc6749.ServerError(err)
	}
	var normalized map[string]any
	if err := json.Unmarshal(b, &normalized); err != nil {
		return nil, rfc6749.ServerError(err)
	}
	return normalized, nil
}

func (e *Endpoint) random(n int) (string, error) {
	src := e.Rand
	if src == nil {
		src = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(src, b); err != nil {
		return "", rfc6749.ServerError(err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// bearer returns the Bearer credential of the Authorization header (RFC 6750 §2.1).
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (e *Endpoint) writeError(rw http.ResponseWriter, r *http.Request, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	level := slog.LevelInfo
	if rfc.CodeField >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	e.log().Log(r.Context(), level, "registration refused", "error", rfc.ErrorField, "hint", rfc.HintField,
		"debug", rfc.DebugField, "remote", remoteHost(r))
	if rfc.CodeField == http.StatusUnauthorized {
		// RFC 6750 §3: no error code when the request carried no credential.
		if _, ok := bearer(r); ok {
			rw.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			rw.Header().Set("WWW-Authenticate", "Bearer")
		}
	}
	description := rfc.DescriptionField
	if rfc.HintField != "" {
		description += " " + rfc.HintField
	}
	status := rfc.CodeField
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(rw, status, map[string]string{"error": rfc.ErrorField, "error_description": rfc6749.DescriptionChars(description)})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json;charset=UTF-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Pragma", "no-cache")
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
