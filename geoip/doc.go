// Package geoip tells the approximate place of a network address from a MaxMind DB file: the
// pending.Locator behind the "where did this request come from" line of an approval page
// (RFC 10027, "establish proximity").
//
//	locator, err := geoip.Open("/var/lib/GeoIP/GeoLite2-City.mmdb", "/var/lib/GeoIP/GeoLite2-ASN.mmdb")
//	if err != nil {
//		return err // a missing, corrupt or wrong file: the error names it
//	}
//	defer locator.Close()
//	place, err := locator.Locate(ctx, netip.MustParseAddr("81.2.69.142"))
//	// place.String() == "London, England, United Kingdom"; place.ASN, place.Organization: its network
//
// # What it is for, and what it is not
//
// A person asked to approve a sign-in on a television, or a CIBA request from a call centre, should
// see where the request was made: "Munich, Bavaria, Germany — Deutsche Telekom AG" next to an
// address means something to a person; 2003:e5:1f0a::1 does not. When the place is another country
// than the one the person is in, they may be approving an attacker's request.
//
// A GeoIP place is a hint, never evidence. The databases are built from registry data, network
// operators' statements and measurements: the country is right for most addresses, the city often is
// not (it may be the operator's office, or the middle of the country), and mobile networks, VPNs,
// corporate proxies, cloud hosts and satellite links put people far from where they are. Show it, let
// it raise a warning, never let it decide alone that a request is genuine — and never that one is
// not: travellers exist. An address the databases do not know has no place (the zero Place); say
// "unknown", not "suspicious".
//
// # Which databases
//
// Open takes one or more MaxMind DB files and merges what they know, the first file that knows a
// field winning:
//
//   - a City database (GeoLite2-City, GeoIP2-City, GeoIP2-Enterprise) gives the country, its first
//     subdivision (a state, region or county) and the city; a Country database (GeoLite2-Country,
//     GeoIP2-Country) only the country;
//   - an ASN database (GeoLite2-ASN; GeoIP2-ISP has the same fields) gives the autonomous system
//     number and the name of its operator: the network provider, which often tells more than a city
//     ("a mobile network", "a cloud host").
//
// Names are read in English. DB-IP's "Lite" databases, which use the same format and field names,
// work too. Files of another kind (Anonymous IP, Connection Type, Domain) are refused at Open.
//
// # Getting the databases
//
// MaxMind publishes GeoLite2 City, Country and ASN for free at
// https://dev.maxmind.com/geoip/geolite2-free-geolocation-data: create an account, accept the GeoLite
// End User License Agreement, create a licence key, and download with MaxMind's geoipupdate tool
// (packaged by most distributions) or from the account pages. The commercial GeoIP2 databases are
// more precise and read the same way. DB-IP (https://db-ip.com/db/lite.php) offers City and ASN Lite
// databases in the same format under CC BY 4.0.
//
// Licences: the databases are not part of this module and not covered by its licence. Read the terms
// of the ones you use. GeoLite's, among other things, require you to replace a database within 30
// days of an update being published and to credit MaxMind where you show the data; CC BY 4.0
// requires crediting DB-IP.
//
// # Keeping them current
//
// Addresses move between operators and places every week: MaxMind updates GeoLite2 twice a week
// (Tuesdays and Fridays). Update at least weekly, for example with geoipupdate from cron, then call
// Reload (on a signal, or on a timer): it opens the new files and swaps them in without stopping
// lookups. A Reload that fails (a half-downloaded file) keeps the old data and returns the error.
//
// The files are memory-mapped, not read into the heap: a 60 MB City database costs page cache, shared
// between processes, and no garbage-collector work. Replace a file by writing the new one elsewhere
// and renaming it over the old (geoipupdate does), never by writing into the file in place: a
// process reading a mapped file that is truncated under it can crash.
//
// # Addresses that have no place
//
// Locate never fails for an address it does not know: it returns the zero Place. That is the answer
// for addresses in no database (private ranges such as 10.0.0.0/8 and fd00::/8 are in no public
// database; a database of your own that names your offices' private ranges is read like any other),
// for IPv6 addresses when every database is IPv4-only, and — without a lookup — for addresses that are
// nowhere: the zero netip.Addr, unspecified, loopback, link-local and multicast addresses. An
// IPv4-mapped IPv6 address (::ffff:81.2.69.142, as a dual-stack listener reports IPv4 clients) is
// looked up as the IPv4 address it carries. Locate returns an error only when a database cannot be
// read (a file corrupted after Open) or after Close.
//
// # Cost
//
// A Locator is safe for concurrent use; lookups share the open files and take a read lock only (Reload
// and Close take the write lock briefly). A lookup decodes only the fields a Place needs: about 2 µs
// with a City database and 4 µs with City and ASN on a loaded 2-core machine, with 2–3 small
// allocations (go test -run x -bench Locate -benchmem ./geoip/, 125,000 networks). Open reads each
// file's metadata and checks one lookup; it does not verify every record (maxminddb's Verify walks the
// whole file, which is slow on a large City database).
package geoip
