package outbox

import (
	"net/netip"

	"github.com/fosite-contrib/grants/outbound"
)

// ErrForbiddenTarget is wrapped by the errors of ValidateTarget and of webhook dials refused by the
// address policy. It is outbound.ErrForbidden (the policy lives in package outbound), and it is
// always permanent.
var ErrForbiddenTarget = outbound.ErrForbidden

// CheckAddr reports whether a webhook may connect to addr. It is outbound.CheckAddr: a public
// unicast address, or a loopback address when allowLoopback is set; private (RFC 1918, RFC 4193),
// link-local (this includes cloud metadata services at 169.254.169.254), multicast, unspecified and
// reserved addresses are refused, and IPv4-mapped IPv6 addresses are judged as the IPv4 address they
// carry.
func CheckAddr(addr netip.Addr, allowLoopback bool) error {
	return outbound.CheckAddr(addr, allowLoopback)
}

// ValidateTarget checks a webhook URL when it is registered (for example a CIBA client's
// backchannel_client_notification_endpoint, OpenID CIBA Core §4 and §10.2, which "MUST be an HTTPS
// URL") with outbound.CheckURL: an absolute https URL with a host, no user info and no fragment. When
// allowLoopbackHTTP is set (development only), http and https URLs whose host is a loopback address
// or "localhost" are accepted too. A host given as an IP literal must pass CheckAddr. Host names are
// not resolved here: the webhook checks the addresses it actually connects to, so a name that later
// resolves to a private address is refused at delivery.
//
// Its errors wrap ErrForbiddenTarget and are permanent.
func ValidateTarget(raw string, allowLoopbackHTTP bool) error {
	if err := outbound.CheckURL(raw, allowLoopbackHTTP); err != nil {
		return Permanent(err)
	}
	return nil
}
