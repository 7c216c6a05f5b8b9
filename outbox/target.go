package outbox

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrForbiddenTarget is wrapped by the errors of ValidateTarget and of webhook dials refused by the
// address policy. It is always permanent.
var ErrForbiddenTarget = errors.New("outbox: forbidden target")

// blockedPrefixes are ranges a webhook must never reach, besides those netip.Addr's predicates name
// (private, loopback, link-local, multicast, unspecified): addresses that are not public unicast.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (RFC 791)
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space, carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (RFC 5737)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking (RFC 2544)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the limited broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 (RFC 6052): would reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("100::/64"),        // discard-only (RFC 6666)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation (RFC 3849)
	netip.MustParsePrefix("2002::/16"),       // 6to4 (RFC 3056): embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo (RFC 4380): embeds any IPv4 address
}

// CheckAddr reports whether a webhook may connect to addr: a public unicast address, or a loopback
// address when allowLoopback is set. It refuses private (RFC 1918, RFC 4193), link-local (this
// includes cloud metadata services at 169.254.169.254), multicast, unspecified and reserved
// addresses; IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func CheckAddr(addr netip.Addr, allowLoopback bool) error {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return fmt.Errorf("%w: invalid address", ErrForbiddenTarget)
	case addr.IsLoopback():
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrForbiddenTarget, addr)
	case addr.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrForbiddenTarget, addr)
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is a link-local address", ErrForbiddenTarget, addr)
	case addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a multicast address", ErrForbiddenTarget, addr)
	case addr.IsUnspecified():
		return fmt.Errorf("%w: %s is the unspecified address", ErrForbiddenTarget, addr)
	case !addr.IsGlobalUnicast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrForbiddenTarget, addr)
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return fmt.Errorf("%w: %s is in the reserved range %s", ErrForbiddenTarget, addr, p)
		}
	}
	return nil
}

// ValidateTarget checks a webhook URL when it is registered (for example a CIBA client's
// backchannel_client_notification_endpoint, OpenID CIBA Core §4 and §10.2, which "MUST be an HTTPS
// URL"): an absolute https URL with a host, no user info and no fragment. When allowLoopbackHTTP is
// set (development only), http and https URLs whose host is a loopback address or "localhost" are
// accepted too. A host given as an IP literal must pass CheckAddr. Host names are not resolved here:
// the webhook checks the addresses it actually connects to, so a name that later resolves to a
// private address is refused at delivery.
//
// Its errors wrap ErrForbiddenTarget and are permanent.
func ValidateTarget(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return Permanent(fmt.Errorf("%w: not a URL", ErrForbiddenTarget))
	}
	if !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return Permanent(fmt.Errorf("%w: not an absolute URL with a host", ErrForbiddenTarget))
	}
	if u.User != nil {
		return Permanent(fmt.Errorf("%w: user info in the URL is not allowed", ErrForbiddenTarget))
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return Permanent(fmt.Errorf("%w: a fragment is not allowed", ErrForbiddenTarget))
	}
	host := u.Hostname()
	if host == "" {
		return Permanent(fmt.Errorf("%w: empty host", ErrForbiddenTarget))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Permanent(fmt.Errorf("%w: invalid port", ErrForbiddenTarget))
		}
	}
	loopback := isLoopbackHost(host)
	switch u.Scheme {
	case "https":
	case "http":
		if !(allowLoopbackHTTP && loopback) {
			return Permanent(fmt.Errorf("%w: the scheme must be https", ErrForbiddenTarget))
		}
	default:
		return Permanent(fmt.Errorf("%w: the scheme must be https", ErrForbiddenTarget))
	}
	if loopback && !allowLoopbackHTTP {
		return Permanent(fmt.Errorf("%w: loopback targets are not allowed", ErrForbiddenTarget))
	}
	if addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if addr.Zone() != "" {
			return Permanent(fmt.Errorf("%w: IPv6 zones are not allowed", ErrForbiddenTarget))
		}
		if err := CheckAddr(addr, allowLoopbackHTTP); err != nil {
			return Permanent(err)
		}
	}
	return nil
}

// isLoopbackHost reports whether host is a loopback IP literal or "localhost" (RFC 6761 §6.3).
func isLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(h)
	return err == nil && addr.Unmap().IsLoopback()
}
