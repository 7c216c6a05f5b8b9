package geoip_test

import (
	"context"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/geoip"
	"github.com/fosite-contrib/grants/handler/pending"
)

var (
	london = pending.Place{Country: "GB", CountryName: "United Kingdom", Region: "England", City: "London", ASN: 20712, Organization: "Andrews & Arnold Ltd"}
	munich = pending.Place{Country: "DE", CountryName: "Germany", Region: "Bavaria", City: "Munich", ASN: 24940, Organization: "Hetzner Online GmbH"}
	dutch  = pending.Place{Country: "NL", CountryName: "Netherlands"}
	google = pending.Place{ASN: 15169, Organization: "Google LLC"}
)

func open(t testing.TB, paths ...string) *geoip.Locator {
	t.Helper()
	l, err := geoip.Open(paths...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLocate(t *testing.T) {
	t.Parallel()
	_, city, asn := testDatabases(t)
	l := open(t, city, asn)
	for _, tc := range []struct {
		name string
		addr string
		want pending.Place
	}{
		{"IPv4 with city, region and network", "81.2.69.142", london},
		{"IPv6 with city, region and network", "2a01:4f8:c17:1::2", munich},
		{"IPv4-mapped IPv6 is the IPv4 address it carries", "::ffff:81.2.69.142", london},
		{"a zone is ignored", "2a01:4f8::1%eth0", munich},
		{"country only: no region, city or network", "5.100.1.1", dutch},
		{"network only (in the ASN database, not in the City database)", "8.8.8.8", google},
		{"unknown public IPv4", "9.9.9.9", pending.Place{}},
		{"unknown public IPv6", "2001:4860:4860::8888", pending.Place{}},
		{"private IPv4", "10.1.2.3", pending.Place{}},
		{"private IPv4 192.168", "192.168.1.10", pending.Place{}},
		{"unique local IPv6", "fd00::1", pending.Place{}},
		{"loopback", "127.0.0.1", pending.Place{}},
		{"IPv6 loopback", "::1", pending.Place{}},
		{"link-local (cloud metadata)", "169.254.169.254", pending.Place{}},
		{"IPv6 link-local", "fe80::1%eth0", pending.Place{}},
		{"unspecified", "0.0.0.0", pending.Place{}},
		{"multicast", "224.0.0.1", pending.Place{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := l.Locate(context.Background(), netip.MustParseAddr(tc.addr))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("the zero Addr", func(t *testing.T) {
		t.Parallel()
		got, err := l.Locate(context.Background(), netip.Addr{})
		require.NoError(t, err)
		require.True(t, got.IsZero())
	})
	t.Run("as the approval page shows it", func(t *testing.T) {
		t.Parallel()
		got, err := l.Locate(context.Background(), netip.MustParseAddr("81.2.69.142"))
		require.NoError(t, err)
		require.Equal(t, "London, England, United Kingdom", got.String())
	})
}

func TestOneDatabaseAtATime(t *testing.T) {
	t.Parallel()
	_, city, asn := testDatabases(t)
	t.Run("City only: no network", func(t *testing.T) {
		t.Parallel()
		got, err := open(t, city).Locate(context.Background(), netip.MustParseAddr("81.2.69.142"))
		require.NoError(t, err)
		require.Equal(t, pending.Place{Country: "GB", CountryName: "United Kingdom", Region: "England", City: "London"}, got)
	})
	t.Run("ASN only: no place", func(t *testing.T) {
		t.Parallel()
		got, err := open(t, asn).Locate(context.Background(), netip.MustParseAddr("81.2.69.142"))
		require.NoError(t, err)
		require.Equal(t, pending.Place{ASN: 20712, Organization: "Andrews & Arnold Ltd"}, got)
	})
	t.Run("the first database that knows a field wins", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		other := writeDB(t, dir, "Other-City.mmdb", "GeoIP2-City", 6,
			entry{"81.2.69.0/24", cityRecord("GB", "Great Britain", "Scotland", "")})
		got, err := open(t, city, other).Locate(context.Background(), netip.MustParseAddr("81.2.69.142"))
		require.NoError(t, err)
		require.Equal(t, "London, England, United Kingdom", got.String())
		got, err = open(t, other, city).Locate(context.Background(), netip.MustParseAddr("81.2.69.142"))
		require.NoError(t, err)
		require.Equal(t, "London, Scotland, Great Britain", got.String(), "the city comes from the second database, which alone knows it")
	})
}

func TestIPv4OnlyDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	country := writeDB(t, dir, "Country.mmdb", "GeoLite2-Country", 4,
		entry{"81.2.69.0/24", cityRecord("GB", "United Kingdom", "", "")})
	l := open(t, country)
	got, err := l.Locate(context.Background(), netip.MustParseAddr("::ffff:81.2.69.142"))
	require.NoError(t, err)
	require.Equal(t, pending.Place{Country: "GB", CountryName: "United Kingdom"}, got)
	got, err = l.Locate(context.Background(), netip.MustParseAddr("2a01:4f8::1"))
	require.NoError(t, err, "an IPv6 address in an IPv4 database is unknown, not an error")
	require.True(t, got.IsZero())
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	dir, city, _ := testDatabases(t)
	valid, err := os.ReadFile(city)
	require.NoError(t, err)
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	anon := writeDB(t, dir, "Anonymous.mmdb", "GeoIP2-Anonymous-IP", 6,
		entry{"81.2.69.0/24", asnRecord(1, "x")})
	for _, tc := range []struct {
		name    string
		paths   []string
		message string
	}{
		{"no path", nil, "at least one database"},
		{"an empty path", []string{""}, "empty database path"},
		{"too many databases", []string{city, city, city, city, city, city, city, city, city}, "at most 8"},
		{"an empty file", []string{file("empty.mmdb", nil)}, "empty.mmdb"},
		{"not a database", []string{file("text.mmdb", []byte("GeoLite2-City, honestly\n"))}, "text.mmdb"},
		{"a truncated download (no metadata)", []string{file("truncated.mmdb", valid[:len(valid)/2])}, "truncated.mmdb"},
		{"a directory", []string{dir}, dir},
		{"a database of another kind", []string{anon}, `"GeoIP2-Anonymous-IP" database`},
		{"one bad file among good ones", []string{city, file("bad.mmdb", []byte{0xab, 0xcd, 0xef})}, "bad.mmdb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := geoip.Open(tc.paths...)
			require.Nil(t, l)
			require.ErrorContains(t, err, tc.message)
		})
	}
	t.Run("a missing file", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(dir, "GeoLite2-City.mmdb")
		_, err := geoip.Open(missing)
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.ErrorContains(t, err, missing)
	})
	t.Run("a corrupt search tree", func(t *testing.T) {
		t.Parallel()
		bad := append([]byte(nil), valid...)
		for i := 0; i < 4096 && i < len(bad)/2; i++ {
			bad[i] = 0xff // every record points far past the data section
		}
		_, err := geoip.Open(file("corrupt-tree.mmdb", bad))
		require.ErrorContains(t, err, "corrupt-tree.mmdb is corrupt")
	})
}

func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeDB(t, dir, "City.mmdb", "GeoLite2-City", 6, entry{"81.2.69.0/24", cityRecord("GB", "United Kingdom", "England", "London")})
	l := open(t, path)
	addr := netip.MustParseAddr("81.2.69.142")
	locate := func() pending.Place {
		p, err := l.Locate(context.Background(), addr)
		require.NoError(t, err)
		return p
	}
	require.Equal(t, "London", locate().City)

	// The weekly update: a new file renamed over the old one, then Reload.
	writeDB(t, dir, "City.mmdb", "GeoLite2-City", 6, entry{"81.2.69.0/24", cityRecord("GB", "United Kingdom", "England", "Manchester")})
	require.Equal(t, "London", locate().City, "the open file is still read until Reload")
	require.NoError(t, l.Reload())
	require.Equal(t, "Manchester", locate().City)

	// A broken update is refused and the Locator keeps what it had.
	require.NoError(t, os.WriteFile(path+".tmp", []byte("not a database"), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
	require.ErrorContains(t, l.Reload(), "City.mmdb")
	require.Equal(t, "Manchester", locate().City)

	require.NoError(t, l.Close())
	_, err := l.Locate(context.Background(), addr)
	require.ErrorIs(t, err, geoip.ErrClosed)
	require.ErrorIs(t, l.Reload(), geoip.ErrClosed)
	require.NoError(t, l.Close(), "closing twice is a no-op")
}

// TestConcurrentLookups runs lookups from many goroutines while the databases are reloaded (run it
// with -race): every answer is right, whichever copy of the files it was read from.
func TestConcurrentLookups(t *testing.T) {
	t.Parallel()
	_, city, asn := testDatabases(t)
	l := open(t, city, asn)
	cases := []struct {
		addr netip.Addr
		want pending.Place
	}{
		{netip.MustParseAddr("81.2.69.142"), london},
		{netip.MustParseAddr("2a01:4f8::1"), munich},
		{netip.MustParseAddr("::ffff:5.100.200.1"), dutch},
		{netip.MustParseAddr("8.8.4.4"), pending.Place{}},
		{netip.MustParseAddr("8.8.8.8"), google},
	}
	const goroutines, lookups = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range lookups {
				c := cases[(g+i)%len(cases)]
				got, err := l.Locate(context.Background(), c.addr)
				if err != nil {
					errs <- err
					return
				}
				if got != c.want {
					errs <- &mismatch{c.addr, got, c.want}
					return
				}
			}
		})
	}
	for range 5 {
		require.NoError(t, l.Reload())
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

type mismatch struct {
	addr      netip.Addr
	got, want pending.Place
}

func (m *mismatch) Error() string {
	return m.addr.String() + ": got " + m.got.String() + ", want " + m.want.String()
}
