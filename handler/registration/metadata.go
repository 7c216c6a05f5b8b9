package registration

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/dpop"
	"github.com/fosite-contrib/grants/internal/rfc6749"
	"github.com/fosite-contrib/grants/outbound"
)

// Metadata is validated client metadata (RFC 7591 §2, OpenID CIBA Core §4), as Parse returns it with
// the defaults filled in. It encodes to the JSON of the registration response (RFC 7591 §3.2.1).
type Metadata struct {
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	// JWKSURI and JWKS are the client's public keys, by reference or by value; never both (RFC 7591 §2).
	JWKSURI         string              `json:"jwks_uri,omitempty"`
	JWKS            *jose.JSONWebKeySet `json:"jwks,omitempty"`
	SoftwareID      string              `json:"software_id,omitempty"`
	SoftwareVersion string              `json:"software_version,omitempty"`
	// TokenEndpointAuthSigningAlg is the JWS algorithm of the client's assertions (OpenID Connect
	// Dynamic Client Registration §2); set for private_key_jwt clients.
	TokenEndpointAuthSigningAlg string `json:"token_endpoint_auth_signing_alg,omitempty"`

	// CIBA client metadata (CIBA Core §4).
	BackchannelTokenDeliveryMode               string `json:"backchannel_token_delivery_mode,omitempty"`
	BackchannelClientNotificationEndpoint      string `json:"backchannel_client_notification_endpoint,omitempty"`
	BackchannelAuthenticationRequestSigningAlg string `json:"backchannel_authentication_request_signing_alg,omitempty"`
	BackchannelUserCodeParameter               bool   `json:"backchannel_user_code_parameter,omitempty"`

	// DPoPBoundAccessTokens makes DPoP mandatory for the client (RFC 9449 §5.2): every token request it
	// makes must carry a DPoP proof.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens,omitempty"`

	// Extensions are the values of the Policy's extension fields, by name.
	Extensions map[string]any `json:"-"`
}

// Bounds on what a client may register.
const (
	maxStringLen   = 256
	maxURILen      = 2000
	maxListLen     = 20
	maxKeys        = 10
	minRSABits     = 2048
	maxContactsLen = 10
)

// privateMembers are JWK members that only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2,
// §6.4.1; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// MarshalJSON encodes the metadata with its extension fields.
func (m *Metadata) MarshalJSON() ([]byte, error) {
	type plain Metadata
	b, err := json.Marshal((*plain)(m))
	if err != nil || len(m.Extensions) == 0 {
		return b, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	for k, v := range m.Extensions {
		if _, known := out[k]; !known {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// Parse decodes and validates client metadata sent to the registration endpoint (RFC 7591 §3.1)
// against the policy, and fills in the defaults of RFC 7591 §2. Fields it does not know and the policy
// has no validator for are ignored, as are software statements (§2.3), which it does not support.
//
// Errors are ErrInvalidRedirectURI or ErrInvalidClientMetadata with a hint naming the field.
func (p *Policy) Parse(body []byte) (*Metadata, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, metadataError("The request body must be a JSON object of client metadata.")
	}
	if dec.More() {
		return nil, metadataError("The request body must hold one JSON object only.")
	}
	var all any
	if err := json.Unmarshal(body, &all); err != nil || holdsNUL(all) {
		// Text with a NUL cannot be meant, and must not reach a store (PostgreSQL refuses it).
		return nil, metadataError("Client metadata must not hold NUL characters.")
	}
	f := fields{raw: raw}
	m := &Metadata{
		TokenEndpointAuthMethod:               f.str("token_endpoint_auth_method"),
		GrantTypes:                            f.list("grant_types"),
		ResponseTypes:                         f.list("response_types"),
		RedirectURIs:                          f.list("redirect_uris"),
		ClientName:                            f.str("client_name"),
		Scope:                                 f.str("scope"),
		Contacts:                              f.list("contacts"),
		JWKSURI:                               f.str("jwks_uri"),
		SoftwareID:                            f.str("software_id"),
		SoftwareVersion:                       f.str("software_version"),
		TokenEndpointAuthSigningAlg:           f.str("token_endpoint_auth_signing_alg"),
		BackchannelTokenDeliveryMode:          f.str("backchannel_token_delivery_mode"),
		BackchannelClientNotificationEndpoint: f.str("backchannel_client_notification_endpoint"),
		BackchannelAuthenticationRequestSigningAlg: f.str("backchannel_authentication_request_signing_alg"),
		BackchannelUserCodeParameter:               f.boolean("backchannel_user_code_parameter"),
		DPoPBoundAccessTokens:                      f.boolean(dpop.MetaBoundAccessTokens),
	}
	if f.err != nil {
		return nil, f.err
	}
	_, grantTypesSent := raw["grant_types"]
	_, responseTypesSent := raw["response_types"]
	_, redirectURIsSent := raw["redirect_uris"]

	for _, check := range []func() error{
		func() error { return p.checkAuthMethod(m) },
		func() error { return p.checkGrantTypes(m, grantTypesSent, responseTypesSent) },
		func() error { return checkRedirectURIs(m, redirectURIsSent) },
		func() error { return p.checkScope(m) },
		func() error { return p.checkKeys(m, raw["jwks"]) },
		func() error { return p.checkSigningAlg(m) },
		func() error { return p.checkCIBA(m, raw) },
		func() error { return checkStrings(m) },
		func() error { return p.checkExtensions(m, raw) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fields decodes typed members of a JSON object, keeping the first error.
type fields struct {
	raw map[string]json.RawMessage
	err error
}

// holdsNUL reports whether any key or string in a decoded JSON value holds a NUL character.
func holdsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, x := range v {
			if holdsNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.IndexByte(k, 0) >= 0 || holdsNUL(x) {
				return true
			}
		}
	}
	return false
}

func (f *fields) decode(name string, v any, kind string) {
	r, ok := f.raw[name]
	if !ok || f.err != nil || string(r) == "null" {
		return
	}
	if err := json.Unmarshal(r, v); err != nil {
		f.err = metadataError("The field '%s' must be %s.", name, kind)
	}
}

func (f *fields) str(name string) (s string) {
	f.decode(name, &s, "a string")
	return s
}

func (f *fields) list(name string) (l []string) {
	f.decode(name, &l, "an array of strings")
	if f.err == nil && len(l) > maxListLen {
		f.err = metadataError("The field '%s' may hold at most %d values.", name, maxListLen)
	}
	return l
}

func (f *fields) boolean(name string) (b bool) {
	f.decode(name, &b, "a boolean")
	return b
}

func (p *Policy) checkAuthMethod(m *Metadata) error {
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = AuthMethodClientSecretBasic // RFC 7591 §2: the default
	}
	switch m.TokenEndpointAuthMethod {
	case AuthMethodPrivateKeyJWT, AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodNone:
		if slices.Contains(p.TokenEndpointAuthMethods, m.TokenEndpointAuthMethod) {
			return nil
		}
	}
	return metadataError("The token_endpoint_auth_method '%s' is not supported; use one of: %s.",
		clip(m.TokenEndpointAuthMethod), strings.Join(p.TokenEndpointAuthMethods, ", "))
}

// checkGrantTypes checks grant_types against the policy and response_types against grant_types (RFC
// 7591 §2.1).
func (p *Policy) checkGrantTypes(m *Metadata, grantTypesSent, responseTypesSent bool) error {
	if !grantTypesSent {
		m.GrantTypes = []string{"authorization_code"} // RFC 7591 §2: the default
	}
	if len(m.GrantTypes) == 0 {
		return metadataError("The field 'grant_types' must name at least one grant type.")
	}
	m.GrantTypes = dedupe(m.GrantTypes)
	for _, g := range m.GrantTypes {
		if !slices.Contains(p.GrantTypes, g) {
			return metadataError("The grant type '%s' is not supported; use one of: %s.", clip(g), strings.Join(p.GrantTypes, ", "))
		}
	}
	code, implicit := slices.Contains(m.GrantTypes, "authorization_code"), slices.Contains(m.GrantTypes, "implicit")
	if !responseTypesSent && code {
		m.ResponseTypes = []string{"code"} // RFC 7591 §2: the default
	}
	m.ResponseTypes = dedupe(m.ResponseTypes)
	for _, rt := range m.ResponseTypes {
		parts := strings.Fields(rt)
		if len(parts) == 0 {
			return metadataError("The response type '%s' is not valid.", clip(rt))
		}
		for _, part := range parts {
			switch {
			case part == "code" && !code:
				return metadataError("The response type '%s' needs the grant type 'authorization_code' (RFC 7591 §2.1).", clip(rt))
			case (part == "token" || part == "id_token") && !implicit:
				return metadataError("The response type '%s' needs the grant type 'implicit' (RFC 7591 §2.1).", clip(rt))
			case part != "code" && part != "token" && part != "id_token":
				return metadataError("The response type '%s' is not supported.", clip(rt))
			}
		}
	}
	if code && !slices.ContainsFunc(m.ResponseTypes, func(rt string) bool { return slices.Contains(strings.Fields(rt), "code") }) {
		return metadataError("The grant type 'authorization_code' needs the response type 'code' (RFC 7591 §2.1).")
	}
	if implicit && !slices.ContainsFunc(m.ResponseTypes, func(rt string) bool {
		f := strings.Fields(rt)
		return slices.Contains(f, "token") || slices.Contains(f, "id_token")
	}) {
		return metadataError("The grant type 'implicit' needs the response type 'token' (RFC 7591 §2.1).")
	}
	if m.TokenEndpointAuthMethod == AuthMethodNone {
		for _, g := range []string{"client_credentials", GrantTypeCIBA} {
			if slices.Contains(m.GrantTypes, g) {
				return metadataError("The grant type '%s' is for confidential clients only: choose a token_endpoint_auth_method other than 'none'.", g)
			}
		}
	}
	return nil
}

// checkRedirectURIs requires redirect_uris for the redirect-based grants, and only for them (RFC 7591
// §2), and checks each URI: absolute, no fragment, https or a loopback or private-use scheme for native
// apps (RFC 8252 §7).
func checkRedirectURIs(m *Metadata, sent bool) error {
	redirecting := slices.Contains(m.GrantTypes, "authorization_code") || slices.Contains(m.GrantTypes, "implicit")
	if !redirecting {
		if sent && len(m.RedirectURIs) > 0 {
			return redirectError("The grant types registered use no redirection: leave 'redirect_uris' out.")
		}
		m.RedirectURIs = nil
		return nil
	}
	if len(m.RedirectURIs) == 0 {
		return redirectError("The grant types 'authorization_code' and 'implicit' need at least one redirection URI.")
	}
	m.RedirectURIs = dedupe(m.RedirectURIs)
	for _, raw := range m.RedirectURIs {
		if err := checkRedirectURI(raw); err != nil {
			return err
		}
	}
	return nil
}

func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxURILen:
		return redirectError("A redirection URI is longer than %d characters.", maxURILen)
	case err != nil || !u.IsAbs() || !utf8.ValidString(raw) || hasControl(raw):
		return redirectError("The redirection URI '%s' is not an absolute URI.", clip(raw))
	case strings.Contains(raw, "#"):
		return redirectError("The redirection URI '%s' must not have a fragment (RFC 6749 §3.1.2).", clip(raw))
	case u.User != nil:
		return redirectError("A redirection URI must not carry credentials.")
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if u.Hostname() == "" {
			return redirectError("The redirection URI '%s' has no host.", clip(raw))
		}
	case scheme == "http":
		// RFC 8252 §7.3 and §8.3: http only on a loopback IP literal, never "localhost".
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return redirectError("The redirection URI '%s' must use https, or http on a loopback IP address (RFC 8252 §7.3).", clip(raw))
		}
	case strings.Contains(scheme, "."):
		// RFC 8252 §7.1: a private-use scheme based on a domain name the app controls.
	default:
		return redirectError("The redirection URI '%s' must use https, http on a loopback IP address, or a private-use scheme in reverse domain name notation (RFC 8252 §7).", clip(raw))
	}
	return nil
}

// checkScope checks each scope value against the policy; no scope means all the policy allows.
func (p *Policy) checkScope(m *Metadata) error {
	scopes := strings.Fields(m.Scope)
	if len(scopes) == 0 {
		m.Scope = strings.Join(p.Scopes, " ")
		return nil
	}
	if len(scopes) > 4*maxListLen {
		return metadataError("The field 'scope' holds too many values.")
	}
	scopes = dedupe(scopes)
	for _, s := range scopes {
		if !slices.Contains(p.Scopes, s) {
			return metadataError("The scope '%s' is not allowed; use some of: %s.", clip(s), strings.Join(p.Scopes, " "))
		}
	}
	m.Scope = strings.Join(scopes, " ")
	return nil
}

// checkKeys parses jwks with go-jose and accepts public signing keys only: RSA of at least 2048 bits,
// or ECDSA on P-256, P-384 or P-521. jwks and jwks_uri are exclusive (RFC 7591 §2: "MUST NOT both be
// present"), and private_key_jwt needs one of them.
func (p *Policy) checkKeys(m *Metadata, rawJWKS json.RawMessage) error {
	hasJWKS := len(rawJWKS) > 0 && string(rawJWKS) != "null"
	switch {
	case hasJWKS && m.JWKSURI != "":
		return metadataError("The fields 'jwks' and 'jwks_uri' must not both be present (RFC 7591 §2).")
	case m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT && !hasJWKS && m.JWKSURI == "":
		return metadataError("The token_endpoint_auth_method 'private_key_jwt' needs the client's public keys in 'jwks' or 'jwks_uri'.")
	case m.JWKSURI != "":
		return checkHTTPSURL("jwks_uri", m.JWKSURI, p.AllowLoopbackHTTP)
	case !hasJWKS:
		return nil
	}

	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(rawJWKS, &set); err != nil || set.Keys == nil {
		return metadataError("The field 'jwks' must be a JSON Web Key Set: an object with a 'keys' array (RFC 7517 §5).")
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxKeys {
		return metadataError("The field 'jwks' must hold between 1 and %d keys.", maxKeys)
	}
	m.JWKS = &jose.JSONWebKeySet{}
	for i, rk := range set.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(rk, &members); err != nil {
			return metadataError("The key %d of 'jwks' is not a JSON object.", i)
		}
		for _, name := range privateMembers {
			if _, ok := members[name]; ok {
				return metadataError("The key %d of 'jwks' holds private or symmetric key material ('%s'): register public keys only.", i, name)
			}
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(rk); err != nil {
			return metadataError("The key %d of 'jwks' is not a valid JSON Web Key.", i)
		}
		if !k.Valid() || !k.IsPublic() {
			return metadataError("The key %d of 'jwks' is not a valid public key.", i)
		}
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			if key.N.BitLen() < minRSABits {
				return metadataError("The RSA key %d of 'jwks' has %d bits; at least %d are required.", i, key.N.BitLen(), minRSABits)
			}
		case *ecdsa.PublicKey:
			if curveAlg(key.Curve) == "" {
				return metadataError("The EC key %d of 'jwks' is not on P-256, P-384 or P-521.", i)
			}
		default:
			return metadataError("The key %d of 'jwks' is of an unsupported type; use RSA or EC keys.", i)
		}
		switch k.Use {
		case "":
			k.Use = "sig" // fosite only verifies assertions with keys marked for signing
		case "sig":
		default:
			return metadataError("The key %d of 'jwks' has use '%s'; only signing keys ('sig') are accepted.", i, clip(k.Use))
		}
		if k.Algorithm != "" && (!slices.Contains(p.SigningAlgorithms, k.Algorithm) || !algFitsKey(k.Algorithm, k.Key)) {
			return metadataError("The key %d of 'jwks' has the algorithm '%s', which is not allowed for it.", i, clip(k.Algorithm))
		}
		m.JWKS.Keys = append(m.JWKS.Keys, k)
	}
	return nil
}

// checkSigningAlg checks token_endpoint_auth_signing_alg: an allowed asymmetric algorithm (never "none"
// nor an HMAC: fosite verifies private_key_jwt only) that fits a registered key. It defaults to the
// algorithm of the first key, else RS256.
func (p *Policy) checkSigningAlg(m *Metadata) error {
	if m.TokenEndpointAuthMethod != AuthMethodPrivateKeyJWT {
		if m.TokenEndpointAuthSigningAlg != "" {
			return metadataError("The field 'token_endpoint_auth_signing_alg' applies to the token_endpoint_auth_method 'private_key_jwt' only.")
		}
		return nil
	}
	if m.TokenEndpointAuthSigningAlg == "" {
		m.TokenEndpointAuthSigningAlg = "RS256"
		if m.JWKS != nil {
			k := m.JWKS.Keys[0]
			m.TokenEndpointAuthSigningAlg = k.Algorithm
			if k.Algorithm == "" {
				m.TokenEndpointAuthSigningAlg = defaultAlg(k.Key)
			}
		}
	}
	return p.checkAlg("token_endpoint_auth_signing_alg", m.TokenEndpointAuthSigningAlg, m.JWKS)
}

// checkAlg checks a JWS algorithm registered for the client's signatures.
func (p *Policy) checkAlg(field, alg string, set *jose.JSONWebKeySet) error {
	if !slices.Contains(supportedAlgs, alg) || !slices.Contains(p.SigningAlgorithms, alg) {
		return metadataError("The %s '%s' is not allowed: use an asymmetric algorithm, one of %s ('none' and HMAC algorithms are never accepted).",
			field, clip(alg), strings.Join(p.allowedAlgs(), ", "))
	}
	if set == nil {
		return nil
	}
	for _, k := range set.Keys {
		if algFitsKey(alg, k.Key) && (k.Algorithm == "" || k.Algorithm == alg) {
			return nil
		}
	}
	return metadataError("No key in 'jwks' can verify %s signatures (the %s).", alg, field)
}

func (p *Policy) allowedAlgs() []string {
	var out []string
	for _, a := range p.SigningAlgorithms {
		if slices.Contains(supportedAlgs, a) {
			out = append(out, a)
		}
	}
	return out
}

// checkCIBA checks the CIBA client metadata (CIBA Core §4). A client is a CIBA client when it registers
// the CIBA grant type, or the push mode (which uses no grant type).
func (p *Policy) checkCIBA(m *Metadata, raw map[string]json.RawMessage) error {
	ciba := slices.Contains(m.GrantTypes, GrantTypeCIBA) || m.BackchannelTokenDeliveryMode == "push"
	if !ciba {
		var names []string
		for name := range raw {
			if strings.HasPrefix(name, "backchannel_") {
				names = append(names, name)
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			return metadataError("The field '%s' is CIBA metadata: register the grant type '%s' to use it.", clip(names[0]), GrantTypeCIBA)
		}
		return nil
	}
	if m.TokenEndpointAuthMethod == AuthMethodNone {
		return metadataError("CIBA clients must be confidential: choose a token_endpoint_auth_method other than 'none'.")
	}
	mode := m.BackchannelTokenDeliveryMode
	switch {
	case mode == "":
		return metadataError("CIBA clients must register 'backchannel_token_delivery_mode' (CIBA Core §4).")
	case (mode != "poll" && mode != "ping" && mode != "push") || !slices.Contains(p.BackchannelTokenDeliveryModes, mode):
		return metadataError("The backchannel_token_delivery_mode '%s' is not supported; use one of: %s.", clip(mode), strings.Join(p.BackchannelTokenDeliveryModes, ", "))
	case mode == "poll" && m.BackchannelClientNotificationEndpoint != "":
		return metadataError("The field 'backchannel_client_notification_endpoint' is used by the ping and push modes only.")
	case mode != "poll" && m.BackchannelClientNotificationEndpoint == "":
		return metadataError("The %s mode needs a 'backchannel_client_notification_endpoint' (CIBA Core §4).", mode)
	case mode != "poll":
		if err := checkHTTPSURL("backchannel_client_notification_endpoint", m.BackchannelClientNotificationEndpoint, p.AllowLoopbackHTTP); err != nil {
			return err
		}
	}
	if m.BackchannelUserCodeParameter && !p.BackchannelUserCodeParameter {
		return metadataError("This server does not support 'backchannel_user_code_parameter' (see backchannel_user_code_parameter_supported in its discovery document).")
	}
	if alg := m.BackchannelAuthenticationRequestSigningAlg; alg != "" {
		if m.JWKS == nil && m.JWKSURI == "" {
			return metadataError("The field 'backchannel_authentication_request_signing_alg' needs the client's public keys in 'jwks' or 'jwks_uri'.")
		}
		return p.checkAlg("backchannel_authentication_request_signing_alg", alg, m.JWKS)
	}
	return nil
}

// checkHTTPSURL requires an absolute https URL without fragment (CIBA Core §4: the notification
// endpoint "MUST be an HTTPS URL"), or http on a loopback host when allowLoopback, that the server may
// call: outbound.CheckURL refuses IP literals in loopback (unless allowLoopback), private, link-local
// and reserved ranges, and "localhost". Names cannot be judged here; the server's outbound client
// refuses them when they resolve to such an address.
func checkHTTPSURL(field, raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if len(raw) > maxURILen || err != nil || !u.IsAbs() || u.Hostname() == "" || strings.Contains(raw, "#") || hasControl(raw) || u.User != nil {
		return metadataError("The field '%s' must be an absolute https URL without fragment or credentials.", field)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowLoopback || !isLoopbackHost(u.Hostname()) {
			return metadataError("The field '%s' must be an https URL.", field)
		}
	default:
		return metadataError("The field '%s' must be an https URL.", field)
	}
	if err := outbound.CheckURL(raw, allowLoopback); err != nil {
		return metadataError("The field '%s' must name a public host; loopback, private, link-local and reserved addresses are refused.", field)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkStrings bounds the human-readable fields and rejects control characters in them.
func checkStrings(m *Metadata) error {
	for _, f := range []struct{ name, value string }{
		{"client_name", m.ClientName}, {"software_id", m.SoftwareID}, {"software_version", m.SoftwareVersion},
	} {
		if err := checkText(f.name, f.value); err != nil {
			return err
		}
	}
	if len(m.Contacts) > maxContactsLen {
		return metadataError("The field 'contacts' may hold at most %d values.", maxContactsLen)
	}
	for _, c := range m.Contacts {
		if c == "" {
			return metadataError("The field 'contacts' must not hold empty values.")
		}
		if err := checkText("contacts", c); err != nil {
			return err
		}
	}
	return nil
}

func checkText(name, v string) error {
	if len(v) > maxStringLen {
		return metadataError("The field '%s' is longer than %d bytes.", name, maxStringLen)
	}
	if !utf8.ValidString(v) || hasControl(v) {
		return metadataError("The field '%s' holds control characters or invalid UTF-8.", name)
	}
	return nil
}

// checkExtensions runs the policy's validators on the fields they name, in name order.
func (p *Policy) checkExtensions(m *Metadata, raw map[string]json.RawMessage) error {
	names := make([]string, 0, len(p.Extensions))
	for name := range p.Extensions {
		if _, ok := raw[name]; ok && !knownField(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var v any
		if err := json.Unmarshal(raw[name], &v); err != nil {
			return metadataError("The field '%s' is not valid JSON.", clip(name))
		}
		stored, err := p.Extensions[name](v, m)
		if err != nil {
			return metadataError("The field '%s' %s.", clip(name), strings.TrimSuffix(err.Error(), "."))
		}
		// Store what the stores give back: JSON types.
		b, err := json.Marshal(stored)
		if err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebugf("the validator of %q returned a value that does not encode to JSON: %v", name, err)
		}
		var normalized any
		if err := json.Unmarshal(b, &normalized); err != nil {
			return rfc6749.ServerError(err)
		}
		if m.Extensions == nil {
			m.Extensions = map[string]any{}
		}
		m.Extensions[name] = normalized
	}
	return nil
}

// knownField reports whether name is a field Metadata has, which an extension cannot redefine.
func knownField(name string) bool {
	switch name {
	case "redirect_uris", "token_endpoint_auth_method", "grant_types", "response_types", "client_name", "scope",
		"contacts", "jwks_uri", "jwks", "software_id", "software_version", "token_endpoint_auth_signing_alg",
		"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at",
		"registration_access_token", "registration_client_uri", metadataRATHash,
		"backchannel_token_delivery_mode", "backchannel_client_notification_endpoint",
		"backchannel_authentication_request_signing_alg", "backchannel_user_code_parameter":
		return true
	}
	return false
}

func curveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

func defaultAlg(key any) string {
	if k, ok := key.(*ecdsa.PublicKey); ok {
		return curveAlg(k.Curve)
	}
	return "RS256"
}

// algFitsKey reports whether a key can verify signatures of alg.
func algFitsKey(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return curveAlg(k.Curve) == alg
	}
	return false
}

func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// clip shortens a client-sent value quoted in a hint and makes it printable.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
		s = strings.ToValidUTF8(s, "") + "…"
	}
	return s
}
