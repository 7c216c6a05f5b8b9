package geoip_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/geoip"
	"github.com/fosite-contrib/grants/outbound"
)

// benchDatabases writes a City and an ASN database shaped like the real ones, so that a lookup walks
// a tree as deep: n IPv4 /24 networks and n/4 IPv6 /48 networks spread over the address space, with
// 1,000 distinct places and 500 networks. It returns the addresses inside them.
func benchDatabases(b *testing.B, n int) (city, asn string, addrs []netip.Addr) {
	b.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	var cities, asns []entry
	seen := map[string]bool{}
	for len(cities) < n+n/4 {
		var network string
		var addr netip.Addr
		if len(cities) < n {
			a := [4]byte{byte(1 + rnd.IntN(222)), byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256))}
			addr = netip.AddrFrom4(a)
			network = netip.PrefixFrom(addr, 24).Masked().String()
		} else {
			var a [16]byte
			a[0], a[1] = 0x2a, byte(rnd.IntN(256))
			for i := 2; i < 6; i++ {
				a[i] = byte(rnd.IntN(256))
			}
			a[15] = 1
			addr = netip.AddrFrom16(a)
			network = netip.PrefixFrom(addr, 48).Masked().String()
		}
		if seen[network] || outbound.CheckAddr(addr, false) != nil { // public addresses only, as in the real databases
			continue
		}
		seen[network] = true
		i := len(cities)
		cities = append(cities, entry{network, cityRecord("C"+fmt.Sprint(i%100), fmt.Sprintf("Country %d", i%100), fmt.Sprintf("Region %d", i%300), fmt.Sprintf("City %d", i%1000))})
		asns = append(asns, entry{network, asnRecord(uint32(64000+i%500), fmt.Sprintf("Network %d", i%500))})
		addrs = append(addrs, addr)
	}
	dir := b.TempDir()
	city = writeDB(b, dir, "City.mmdb", "GeoLite2-City", 6, cities...)
	asn = writeDB(b, dir, "ASN.mmdb", "GeoLite2-ASN", 6, asns...)
	return city, asn, addrs
}

// BenchmarkLocate measures one Locate (City and ASN databases) from all cores at once.
//
//	go test -run x -bench Locate -benchmem ./geoip/
func BenchmarkLocate(b *testing.B) {
	city, asn, addrs := benchDatabases(b, 100_000)
	for _, bc := range []struct {
		name  string
		paths []string
	}{
		{"City", []string{city}},
		{"City+ASN", []string{city, asn}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := geoip.Open(bc.paths...)
			require.NoError(b, err)
			defer l.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(addrs))
				for pb.Next() {
					p, err := l.Locate(ctx, addrs[i%len(addrs)])
					if err != nil || p.City == "" {
						b.Errorf("Locate(%s) = %+v, %v", addrs[i%len(addrs)], p, err)
						return
					}
					i++
				}
			})
		})
	}
}
