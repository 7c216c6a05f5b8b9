package geoip_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/require"
)

// The tests write their own small MaxMind DB files with MaxMind's writer, in the schema of GeoLite2
// City and ASN (the networks are real, the places made up for the tests).

// entry is one network of a test database and its record.
type entry struct {
	network string
	record  mmdbtype.Map
}

// writeDB writes a database of type dbType (ipVersion 4 or 6) holding entries to dir/name and
// returns its path. The file is written to a temporary name and renamed into place, as geoipupdate
// does, so that a Locator reading the old file is never handed a half-written one.
func writeDB(t testing.TB, dir, name, dbType string, ipVersion int, entries ...entry) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		IPVersion:    ipVersion,
		RecordSize:   28,
		Languages:    []string{"en", "de"},
		Description:  map[string]string{"en": "test database"},
	})
	require.NoError(t, err)
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.network)
		require.NoError(t, err)
		require.NoError(t, tree.Insert(network, e.record), e.network)
	}
	path := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, name+".*.tmp")
	require.NoError(t, err)
	_, err = tree.WriteTo(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Rename(f.Name(), path))
	return path
}

func names(en, de string) mmdbtype.Map {
	m := mmdbtype.Map{"en": mmdbtype.String(en)}
	if de != "" {
		m["de"] = mmdbtype.String(de)
	}
	return m
}

// cityRecord is a GeoLite2-City record; empty parts are left out, as in the real database.
func cityRecord(iso, country, region, city string) mmdbtype.Map {
	r := mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe", "Europa")},
		"country":   mmdbtype.Map{"iso_code": mmdbtype.String(iso), "names": names(country, ""), "geoname_id": mmdbtype.Uint32(1)},
		"location":  mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(100), "latitude": mmdbtype.Float64(48.1), "longitude": mmdbtype.Float64(11.6)},
	}
	if region != "" {
		r["subdivisions"] = mmdbtype.Slice{
			mmdbtype.Map{"iso_code": mmdbtype.String("X1"), "names": names(region, "")},
			mmdbtype.Map{"iso_code": mmdbtype.String("X2"), "names": names("Second subdivision", "")},
		}
	}
	if city != "" {
		r["city"] = mmdbtype.Map{"names": names(city, city+" (de)"), "geoname_id": mmdbtype.Uint32(2)}
	}
	return r
}

// asnRecord is a GeoLite2-ASN record.
func asnRecord(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(asn), "autonomous_system_organization": mmdbtype.String(org)}
}

// testDatabases writes a City database and an ASN database to a new directory.
//
//	81.2.69.0/24      GB, England, London              AS 20712 Andrews & Arnold Ltd
//	2a01:4f8::/32     DE, Bavaria, Munich              AS 24940 Hetzner Online GmbH
//	5.100.0.0/16      NL, Netherlands (country only)   -
//	8.8.8.0/24        -                                AS 15169 Google LLC
func testDatabases(t testing.TB) (dir, city, asn string) {
	t.Helper()
	dir = t.TempDir()
	city = writeDB(t, dir, "City.mmdb", "GeoLite2-City", 6,
		entry{"81.2.69.0/24", cityRecord("GB", "United Kingdom", "England", "London")},
		entry{"2a01:4f8::/32", cityRecord("DE", "Germany", "Bavaria", "Munich")},
		entry{"5.100.0.0/16", cityRecord("NL", "Netherlands", "", "")},
	)
	asn = writeDB(t, dir, "ASN.mmdb", "GeoLite2-ASN", 6,
		entry{"81.2.69.0/24", asnRecord(20712, "Andrews & Arnold Ltd")},
		entry{"2a01:4f8::/32", asnRecord(24940, "Hetzner Online GmbH")},
		entry{"8.8.8.0/24", asnRecord(15169, "Google LLC")},
	)
	return dir, city, asn
}
