package pending

import (
	"context"
	"net/netip"
	"time"
)

// Place is the approximate place of a network address, as a GeoIP database knows it: what an approval
// page shows beside the address, so that a person can tell a request made in another city or country
// (RFC 10027, "establish proximity"). Every field may be empty.
type Place struct {
	// Country is the ISO 3166-1 alpha-2 code ("DE"); CountryName its English name ("Germany").
	Country, CountryName string
	// Region is the first subdivision's name ("Bavaria"); City the city's ("Munich").
	Region, City string
	// ASN and Organization are the autonomous system the address belongs to (its network operator).
	ASN          uint
	Organization string
}

// IsZero reports whether nothing is known of the place.
func (p Place) IsZero() bool { return p == Place{} }

// String is the place in words, most specific first ("Munich, Bavaria, Germany"), or "".
func (p Place) String() string {
	s := ""
	for _, part := range []string{p.City, p.Region, p.CountryName} {
		if part == "" {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += part
	}
	if s == "" {
		s = p.Country
	}
	return s
}

// Locator finds the approximate place of a network address (a GeoIP lookup). It returns the zero Place
// and no error when it knows nothing of the address; an error only when it cannot look at all.
// Implementations must be safe for concurrent use.
type Locator interface {
	Locate(ctx context.Context, addr netip.Addr) (Place, error)
}

// Remediation is what a grant found abused was, for the resource servers that accepted its tokens
// (RFC 10027, "detect and remediate"): the grant ended, and every token it issued was revoked.
type Remediation struct {
	// Kind is the kind of grant.
	Kind Kind
	// RequestID is the grant's request ID, which every token it issued carries.
	RequestID string
	// ClientID is the client the grant was issued to; Subject the user it was approved for (empty when
	// it was never approved).
	ClientID, Subject string
	// Reason says why: ReasonBurnedCode, ReasonReported, ReasonStaff, ReasonAdministrator, ...
	Reason string
	// By is who flagged it (a subject, a staff member, an administrator); empty for the server itself.
	By string
	// Time is when it was flagged.
	Time time.Time
	// TokensRevoked is true when the grant had issued tokens, now revoked.
	TokensRevoked bool
}

// Reasons a grant is flagged as abused.
const (
	// ReasonBurnedCode: the grant's user code was looked up by too many different accounts (a code sent
	// to many people).
	ReasonBurnedCode = "burned_code"
	// ReasonReported: the person the grant is for said they did not start it ("this wasn't me").
	ReasonReported = "reported"
	// ReasonStaff: staff found the grant abused.
	ReasonStaff = "staff"
	// ReasonAdministrator: an administrator flagged it.
	ReasonAdministrator = "administrator"
)

// SecurityEvents tells others that a grant was found abused, once it has been ended and its tokens
// revoked: typically a Security Event Token (RFC 8417) pushed to the resource servers' receivers
// (RFC 8935), so that they drop what they cached. Announce must join the transaction ctx carries when
// the store is transactional (queue, do not deliver), and must not block on the network.
type SecurityEvents interface {
	Announce(ctx context.Context, r Remediation) error
}
