package outbound

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"
)

// ErrForbidden is wrapped by every error about a destination the policy refuses: a URL that is not
// https (or loopback http, when allowed), carries user info, or names a forbidden address, and a dial
// to a forbidden address. Such a refusal is permanent: asking again gets the same answer.
var ErrForbidden = errors.New("outbound: forbidden destination")

// CheckAddr reports whether the server may connect to addr: a public unicast address, or a loopback
// address when allowLoopback is set (development). It refuses
//
//   - IPv4 addresses in the IANA IPv4 Special-Purpose Address Registry (RFC 6890): "this network"
//     0.0.0.0/8, private 10/8, 172.16/12 and 192.168/16 (RFC 1918), shared 100.64/10 (RFC 6598),
//     loopback 127/8, link-local 169.254/16 (which holds the cloud metadata services at
//     169.254.169.254), documentation, benchmarking, multicast, reserved 240/4 and broadcast;
//   - IPv6 addresses outside the global unicast range 2000::/3 (loopback ::1, unspecified ::,
//     IPv4-compatible ::/96, unique local fc00::/7, link-local fe80::/10, multicast ff00::/8, NAT64
//     64:ff9b::/96 and 64:ff9b:1::/48, discard 100::/64), and inside it the special-purpose ranges
//     2001::/23 (which holds Teredo, RFC 4380), 2001:db8::/32 (documentation) and 2002::/16 (6to4,
//     RFC 3056), whose addresses can embed any IPv4 address;
//   - any address with an IPv6 zone.
//
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it carries. The
// registries are read from code.dny.dev/ssrf, which generates them from IANA's.
func CheckAddr(addr netip.Addr, allowLoopback bool) error {
	if !addr.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbidden)
	}
	if addr.Zone() != "" {
		return fmt.Errorf("%w: an address with an IPv6 zone", ErrForbidden)
	}
	a := addr.Unmap()
	switch {
	case a.IsLoopback():
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrForbidden, a)
	case a.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrForbidden, a)
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is a link-local address", ErrForbidden, a)
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a multicast address", ErrForbidden, a)
	case a.IsUnspecified():
		return fmt.Errorf("%w: %s is the unspecified address", ErrForbidden, a)
	}
	if a.Is4() {
		for _, p := range ssrf.IPv4DeniedPrefixes {
			if p.Contains(a) {
				return fmt.Errorf("%w: %s is in the special-purpose range %s", ErrForbidden, a, p)
			}
		}
		return nil
	}
	if !ssrf.IPv6GlobalUnicast.Contains(a) {
		return fmt.Errorf("%w: %s is outside the IPv6 global unicast range %s", ErrForbidden, a, ssrf.IPv6GlobalUnicast)
	}
	for _, p := range ssrf.IPv6DeniedPrefixes {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s is in the special-purpose range %s", ErrForbidden, a, p)
		}
	}
	return nil
}

// CheckURL checks a URL the server will call later, when it is configured or registered (for example
// a client's jwks_uri, RFC 7591 §2, or its backchannel_client_notification_endpoint, which OpenID CIBA
// Core §4 says "MUST be an HTTPS URL"). It accepts an absolute https URL with a host and a valid
// port, without user info or fragment, whose host is
//
//   - a DNS name: names cannot be judged now (what they resolve to may change); the client made by
//     NewClient checks the address it actually connects to;
//   - or an IP literal that passes CheckAddr.
//
// A host whose last label is numeric (such as 2130706433 or 0x7f.1) is refused: it is an IPv4
// address in a legacy notation that some resolvers accept, never a DNS name. "localhost" and names
// under ".localhost" (RFC 6761 §6.3) are loopback hosts.
//
// With allowLoopback (development only) loopback hosts are accepted, over http as well as https;
// http stays refused for every other host. Errors wrap ErrForbidden and say what is wrong.
func CheckURL(raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: not a URL", ErrForbidden)
	}
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%w: a fragment is not allowed", ErrForbidden)
	}
	return checkURL(u, allowLoopback)
}

// checkURL is CheckURL for a parsed URL; the transport applies it to every request.
func checkURL(u *url.URL, allowLoopback bool) error {
	if !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: not an absolute URL with a host", ErrForbidden)
	}
	if u.User != nil {
		return fmt.Errorf("%w: user info in the URL is not allowed", ErrForbidden)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%w: a fragment is not allowed", ErrForbidden)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: empty host", ErrForbidden)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: invalid port", ErrForbidden)
		}
	}
	loopback := isLoopbackHost(host)
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !(allowLoopback && loopback) {
			return fmt.Errorf("%w: the scheme must be https", ErrForbidden)
		}
	default:
		return fmt.Errorf("%w: the scheme must be https", ErrForbidden)
	}
	if loopback && !allowLoopback {
		return fmt.Errorf("%w: loopback hosts are not allowed", ErrForbidden)
	}
	if addr, ok := literal(host); ok {
		return CheckAddr(addr, allowLoopback)
	}
	if numericLastLabel(host) {
		return fmt.Errorf("%w: a numeric host that is not an IP address", ErrForbidden)
	}
	return nil
}

// literal parses host as an IP address literal, with or without the brackets of a URL.
func literal(host string) (netip.Addr, bool) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(h)
	return a, err == nil
}

// isLoopbackHost reports whether host is a loopback IP literal, "localhost" or a name under
// ".localhost" (RFC 6761 §6.3).
func isLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, ok := literal(h)
	return ok && a.Unmap().IsLoopback()
}

// numericLastLabel reports whether the last label of host is a number (decimal, or hex with 0x):
// the WHATWG URL standard and inet_aton then read the whole host as an IPv4 address.
func numericLastLabel(host string) bool {
	h := strings.TrimSuffix(host, ".")
	if i := strings.LastIndexByte(h, '.'); i >= 0 {
		h = h[i+1:]
	}
	if h == "" {
		return false
	}
	if len(h) >= 2 && (h[:2] == "0x" || h[:2] == "0X") {
		return true
	}
	for _, c := range h {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
