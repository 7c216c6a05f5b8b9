package geoip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/fosite-contrib/grants/handler/pending"
)

// ErrClosed is returned by Locate and Reload after Close.
var ErrClosed = errors.New("geoip: locator is closed")

// MaxDatabases is how many database files one Locator reads.
const MaxDatabases = 8

// Locator finds the approximate place of an address in MaxMind DB files (see the package
// documentation). It implements pending.Locator. It is safe for concurrent use, Reload and Close
// included.
type Locator struct {
	paths []string

	mu  sync.RWMutex
	dbs []*database // nil after Close
}

var _ pending.Locator = (*Locator)(nil)

// database is one open file.
type database struct {
	path   string
	typ    string // the metadata's database_type, for errors
	ipv6   bool   // an IPv6 tree (also answers IPv4); an IPv4 tree cannot answer IPv6 lookups
	reader *maxminddb.Reader
}

// Open opens the MaxMind DB files at paths and returns a Locator that looks addresses up in all of
// them: typically a City (or Country) database, and optionally an ASN database, in that order. For
// each field of a Place the first database that knows it wins.
//
// Each file must be a MaxMind DB of a kind this package reads: its database_type names a City,
// Country, ASN or ISP database (GeoLite2-City, GeoIP2-Country, GeoLite2-ASN, GeoIP2-ISP,
// DBIP-City-Lite, …). A missing, unreadable or corrupt file, or one of another kind, is an error
// naming the file, and nothing stays open. Open reads each file's metadata and checks one lookup;
// it does not walk the whole file (maxminddb's Verify does, which is slow on a large City database).
//
// The files are memory-mapped: replace a file by renaming a new one over it (as geoipupdate does),
// never by writing into it, then call Reload.
func Open(paths ...string) (*Locator, error) {
	if len(paths) == 0 {
		return nil, errors.New("geoip: Open needs the path of at least one database")
	}
	if len(paths) > MaxDatabases {
		return nil, fmt.Errorf("geoip: Open takes at most %d databases, got %d", MaxDatabases, len(paths))
	}
	dbs, err := openAll(paths)
	if err != nil {
		return nil, err
	}
	return &Locator{paths: append([]string(nil), paths...), dbs: dbs}, nil
}

func openAll(paths []string) ([]*database, error) {
	dbs := make([]*database, 0, len(paths))
	for _, p := range paths {
		db, err := openDatabase(p)
		if err != nil {
			closeAll(dbs)
			return nil, err
		}
		dbs = append(dbs, db)
	}
	return dbs, nil
}

func closeAll(dbs []*database) error {
	var errs []error
	for _, db := range dbs {
		if err := db.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("geoip: close %s: %w", db.path, err))
		}
	}
	return errors.Join(errs...)
}

// knownTypes are the database_type words of the databases whose records hold what a Place needs
// (MaxMind's GeoIP2/GeoLite2 schema, which DB-IP's Lite databases share).
var knownTypes = []string{"city", "country", "enterprise", "asn", "isp"}

func openDatabase(path string) (*database, error) {
	if path == "" {
		return nil, errors.New("geoip: empty database path")
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: open %s: %w", path, err)
	}
	db := &database{path: path, typ: r.Metadata.DatabaseType, ipv6: r.Metadata.IPVersion == 6, reader: r}
	typ := strings.ToLower(db.typ)
	known := false
	for _, k := range knownTypes {
		known = known || strings.Contains(typ, k)
	}
	if !known {
		_ = r.Close()
		return nil, fmt.Errorf("geoip: %s is a %q database; want a City, Country, ASN or ISP database", path, db.typ)
	}
	// One lookup reads the search tree's first nodes and the data section's start: a file whose
	// metadata survived but whose tree did not fails here rather than on the first request.
	var rec record
	probe := netip.AddrFrom4([4]byte{1, 1, 1, 1})
	if err := r.Lookup(probe).Decode(&rec); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("geoip: %s is corrupt: %w", path, err)
	}
	return db, nil
}

// record is what a Place is read from: the members of MaxMind's City, Country and ASN records this
// package uses, with English names only (decoding a struct reads only these keys).
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	ASN          uint   `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

type names struct {
	English string `maxminddb:"en"`
}

// Locate implements pending.Locator: the place of addr as the databases know it. It returns the
// zero Place, and no error, for an address no database knows: one not in any database (private
// ranges are not in public databases), an IPv6 address in IPv4-only databases, and addresses that
// have no place at all (invalid, unspecified, loopback, link-local, multicast), which are not looked
// up. An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is looked up as the IPv4 address it carries,
// and a zone is ignored. It returns an error only when a database cannot be read (it is corrupt) or
// after Close. ctx is not used: a lookup takes about a microsecond and never blocks.
func (l *Locator) Locate(_ context.Context, addr netip.Addr) (pending.Place, error) {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsLoopback() || addr.IsMulticast() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() {
		return pending.Place{}, nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.dbs == nil {
		return pending.Place{}, ErrClosed
	}
	var p pending.Place
	for _, db := range l.dbs {
		if addr.Is6() && !db.ipv6 {
			continue
		}
		var rec record
		if err := db.reader.Lookup(addr).Decode(&rec); err != nil {
			return pending.Place{}, fmt.Errorf("geoip: %s: cannot read the record of an address: %w", db.path, err)
		}
		fill(&p.Country, rec.Country.ISOCode)
		fill(&p.CountryName, rec.Country.Names.English)
		if len(rec.Subdivisions) > 0 {
			fill(&p.Region, rec.Subdivisions[0].Names.English)
		}
		fill(&p.City, rec.City.Names.English)
		if p.ASN == 0 && rec.ASN != 0 {
			p.ASN, p.Organization = rec.ASN, rec.Organization
		}
	}
	return p, nil
}

func fill(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// Reload opens the files Open was given again and, once every one has opened, swaps them in: later
// lookups see the new data, lookups under way finish on the old, and the old files are closed. If any
// file fails to open, Reload returns the error and the Locator keeps the databases it had. Call it
// after replacing a database file (see the package documentation); it is safe to call while Locate
// runs.
func (l *Locator) Reload() error {
	l.mu.RLock()
	closed := l.dbs == nil
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	dbs, err := openAll(l.paths)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.dbs
	if old == nil {
		l.mu.Unlock()
		_ = closeAll(dbs) // closed while the files were opened
		return ErrClosed
	}
	l.dbs = dbs
	l.mu.Unlock()
	return closeAll(old)
}

// Close closes the database files; Locate and Reload return ErrClosed afterwards. It waits for
// lookups under way. Closing twice is a no-op.
func (l *Locator) Close() error {
	l.mu.Lock()
	old := l.dbs
	l.dbs = nil
	l.mu.Unlock()
	return closeAll(old)
}
