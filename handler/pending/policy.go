package pending

import (
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/ory/fosite"
)

// Policy is a grant's cross-device security policy: the mitigations of RFC 10027 (BCP 247, "Best
// Current Practice for Security of Cross-Device Flows", §6.1) that an authorization server applies
// without changing its clients. Each concern is decided in one place of the Lifecycle, and every time a
// policy acts it is audited (Lifecycle.Audit):
//
//	mitigation (RFC 10027 §6.1)       option                            decided in
//	rate limits                       Initiation                        Lifecycle.Admit
//	trusted networks                  Networks                          Lifecycle.Admit
//	trusted devices                   RequireKeyBoundClients            Lifecycle.Admit
//	limited scopes                    Ceiling, ClientCeilings (Scopes)  Lifecycle.CheckScopes
//	short-lived tokens                Ceiling, ClientCeilings (*Lifespan, NoRefreshTokens)  TokenIssuer.Prepare
//	unique, limited-use codes         BurnAfterAccounts                 Lifecycle.LookupUserCode
//	establish proximity               Locator, RefuseAcrossNetworks     Lifecycle.Proximity, Lifecycle.Decide
//	detect and remediate              Events                            Lifecycle.Flag
//
// The zero value turns nothing on; each grant's options fill in its own safe defaults (see their
// package docs).
type Policy struct {
	// Initiation bounds how many flows are started (rate limits): per client, per client address, and
	// per user the request names (a CIBA hint, an OTP identifier). A limited request is refused with
	// ErrTooManyRequests before anything reaches the user.
	Initiation InitiationLimits
	// Networks lists, per client ID, the networks from which that client may start a flow (trusted
	// networks: a kiosk's shop network, a set-top box operator's access network). A client that is not
	// listed may start from anywhere. Refused: ErrUntrustedNetwork.
	Networks map[string][]netip.Prefix
	// RequireKeyBoundClients refuses flows started by clients that do not authenticate with
	// private_key_jwt (trusted devices: each device registered on its own, with its own key, as in the
	// staffed-kiosk deployment, rather than many devices sharing one public client). Refused:
	// ErrUntrustedClient.
	RequireKeyBoundClients bool
	// Ceiling caps what every client's flows of this grant may ask for and get (limited scopes,
	// short-lived tokens); ClientCeilings caps them per client ID. Both apply: the tighter wins.
	Ceiling        Ceiling
	ClientCeilings map[string]Ceiling
	// BurnAfterAccounts burns a user code looked up by more than this many different signed-in accounts
	// (a code mailed to many people): its grant is flagged (ReasonBurnedCode) and can no longer be
	// approved. Zero or negative: off.
	BurnAfterAccounts int
	// OneOpenRequest allows at most one open (pending) request per client and user: a new one is refused
	// with ErrOpenRequest while an earlier one waits for the user. For flows whose requests name a user
	// (CIBA). It is checked before a request is stored and again after (a request stored by another
	// instance at the same moment withdraws the later one), so that concurrent requests cannot open two;
	// in the tightest race both are refused.
	OneOpenRequest bool
	// Locator finds where a request came from (GeoIP), for the approval page and RefuseAcrossNetworks;
	// nil: network prefixes only.
	Locator Locator
	// RefuseAcrossNetworks refuses an approval made from another network than the request's (another
	// operator, or another /24 or /48 when the operator is unknown): ErrAcrossNetworks. Off by default:
	// a phone on a mobile network approving a TV on home broadband is the normal case; turn it on where
	// both are expected in one place (a shop, a kiosk, an office).
	RefuseAcrossNetworks bool
	// Events announces grants found abused to resource servers (detect and remediate); nil: none.
	Events SecurityEvents
}

// InitiationLimits are the rate limits on starting flows, counted in a fixed window in the store
// (AttemptStorage), so that they hold across server instances. A zero limit is off.
type InitiationLimits struct {
	PerClient, PerAddress, PerUser int
	Window                         time.Duration
}

// Or returns l with each zero field taken from def, and each negative limit 0 (off).
func (l InitiationLimits) Or(def InitiationLimits) InitiationLimits {
	x := Limits{PerAddress: l.PerAddress, Global: l.PerClient, PerAccount: l.PerUser, Window: l.Window}.
		Or(Limits{PerAddress: def.PerAddress, Global: def.PerClient, PerAccount: def.PerUser, Window: def.Window})
	return InitiationLimits{PerClient: x.Global, PerAddress: x.PerAddress, PerUser: x.PerAccount, Window: x.Window}
}

// Ceiling caps the scopes a cross-device flow may ask for and the lifetimes of the tokens it gets
// (RFC 10027: limited scopes, short-lived tokens). Zero fields cap nothing.
type Ceiling struct {
	// Scopes are the only scopes a flow may ask for; nil: any the client may ask for.
	Scopes []string
	// AccessTokenLifespan and RefreshTokenLifespan cap the lifetimes of the tokens a flow issues.
	AccessTokenLifespan, RefreshTokenLifespan time.Duration
	// The caps hold through refreshes when the refresh token grant is handler/refresh's
	// (compose.RefreshTokenGrantFactory): a refreshed access token lives no longer than
	// AccessTokenLifespan, and no token of the grant outlives its first refresh token (see
	// KeepCeiling). fosite's own refresh handler would give each rotation the server's lifespans.
	//
	// NoRefreshTokens: the flow issues no refresh token at all.
	NoRefreshTokens bool
	// CodeLifespan caps how long the flow's codes and requests live: device and user codes, CIBA
	// requests (requested_expiry included), one-time-passcode challenges.
	CodeLifespan time.Duration
}

// CeilingFor returns the ceiling for clientID: Ceiling and ClientCeilings[clientID] together, the
// tighter of each. TokenIssuer.Ceiling takes it.
func (p *Policy) CeilingFor(clientID string) Ceiling { return p.ceiling(clientID) }

func (p *Policy) ceiling(clientID string) Ceiling {
	c, ok := p.ClientCeilings[clientID]
	if !ok {
		return p.Ceiling
	}
	g := p.Ceiling
	switch {
	case g.Scopes == nil:
	case c.Scopes == nil:
		c.Scopes = g.Scopes
	default:
		var both []string
		for _, s := range c.Scopes {
			if slices.Contains(g.Scopes, s) {
				both = append(both, s)
			}
		}
		c.Scopes = both
		if c.Scopes == nil {
			c.Scopes = []string{}
		}
	}
	c.AccessTokenLifespan = tighter(c.AccessTokenLifespan, g.AccessTokenLifespan)
	c.RefreshTokenLifespan = tighter(c.RefreshTokenLifespan, g.RefreshTokenLifespan)
	c.NoRefreshTokens = c.NoRefreshTokens || g.NoRefreshTokens
	c.CodeLifespan = tighter(c.CodeLifespan, g.CodeLifespan)
	return c
}

func tighter(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// The errors the policies answer with, each distinct under errors.Is.
var (
	// ErrTooManyRequests: the client, its address, or the user it names has started too many flows
	// lately (temporarily_unavailable, 429). Try again later.
	ErrTooManyRequests = NewError("temporarily_unavailable", "The request was refused by a rate limit.", http.StatusTooManyRequests)
	// ErrUntrustedNetwork: the client may not start a flow from this network (unauthorized_client).
	ErrUntrustedNetwork = NewError("unauthorized_client", "The client is not allowed to start this request from its network.", http.StatusBadRequest)
	// ErrUntrustedClient: this server requires devices registered on their own, authenticating with
	// private_key_jwt (unauthorized_client).
	ErrUntrustedClient = NewError("unauthorized_client", "Only clients that authenticate with their own key (private_key_jwt) may start this request.", http.StatusBadRequest)
	// ErrOpenRequest: a request of this client for this user still waits for a decision
	// (Policy.OneOpenRequest; temporarily_unavailable, 429 with Retry-After until it expires).
	ErrOpenRequest = NewError("temporarily_unavailable", "A request of this client for this user is still waiting for a decision.", http.StatusTooManyRequests)
	// ErrAcrossNetworks: the approval comes from another network than the request (access_denied, 403).
	ErrAcrossNetworks = NewError("access_denied", "The request was made from another network than this approval. Approve it from the network of the device that asked.", http.StatusForbidden)
)

// Names of the policies in audit events ("policy" of EventPolicyRefused).
const (
	PolicyRateLimit      = "rate_limit"
	PolicyOneOpen        = "one_open_request"
	PolicyNetwork        = "trusted_network"
	PolicyClient         = "trusted_device"
	PolicyScopes         = "limited_scopes"
	PolicyBurnedCode     = "burned_code"
	PolicyAcrossNetworks = "proximity"
)

// authMethodOf returns the client's registered token endpoint authentication method, or "".
func authMethodOf(c fosite.Client) string {
	if oc, ok := c.(fosite.OpenIDConnectClient); ok {
		return oc.GetTokenEndpointAuthMethod()
	}
	if mc, ok := c.(interface{ GetMetadata() map[string]any }); ok {
		if m, _ := mc.GetMetadata()["token_endpoint_auth_method"].(string); m != "" {
			return m
		}
	}
	return ""
}

// addrOf parses a client address as DeviceInfo keeps it.
func addrOf(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// SameNetwork reports whether a request made from a and approved from b look like one place: the same
// network operator when the Locator knows both (ASN), else the same /24 (IPv4) or /48 (IPv6), or both
// loopback. Unknown addresses are not the same network.
func SameNetwork(a, b netip.Addr, pa, pb Place) bool {
	if !a.IsValid() || !b.IsValid() {
		return false
	}
	a, b = a.Unmap(), b.Unmap()
	if a.IsLoopback() && b.IsLoopback() {
		return true
	}
	if pa.ASN != 0 && pb.ASN != 0 {
		return pa.ASN == pb.ASN
	}
	if a.Is4() != b.Is4() {
		return false
	}
	bits := 48
	if a.Is4() {
		bits = 24
	}
	pfx, err := a.Prefix(bits)
	return err == nil && pfx.Contains(b)
}
