package geoip_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/fosite-contrib/grants/geoip"
)

func ExampleOpen() {
	// A real server opens the GeoLite2 files geoipupdate keeps current; this example writes a tiny
	// City database of its own.
	dir, err := os.MkdirTemp("", "geoip-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	writeExampleDatabase(path)

	locator, err := geoip.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer locator.Close()

	for _, a := range []string{"81.2.69.142", "::ffff:81.2.69.160", "192.168.1.20", "9.9.9.9"} {
		place, err := locator.Locate(context.Background(), netip.MustParseAddr(a))
		if err != nil {
			log.Fatal(err)
		}
		if place.IsZero() {
			fmt.Printf("%s: unknown\n", a)
			continue
		}
		fmt.Printf("%s: %s (%s)\n", a, place, place.Country)
	}
	// Output:
	// 81.2.69.142: London, England, United Kingdom (GB)
	// ::ffff:81.2.69.160: London, England, United Kingdom (GB)
	// 192.168.1.20: unknown
	// 9.9.9.9: unknown
}

func writeExampleDatabase(path string) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", IPVersion: 6})
	if err != nil {
		log.Fatal(err)
	}
	_, network, _ := net.ParseCIDR("81.2.69.0/24")
	err = tree.Insert(network, mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "names": mmdbtype.Map{"en": mmdbtype.String("United Kingdom")}},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("England")}}},
		"city":         mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("London")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
