package qrcode_test

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"

	"github.com/fosite-contrib/grants/internal/qrcode"
)

// A device shows verification_uri_complete (RFC 8628 §3.3.1) as a PNG on a
// web page, as an SVG that scales, or in a terminal.
func Example() {
	uri := "https://auth.example.com/device?user_code=WDJB-MJHT"

	pngData, err := qrcode.PNG(uri, 256)
	if err != nil {
		fmt.Println(err)
		return
	}
	img, _ := png.Decode(bytes.NewReader(pngData))
	fmt.Println("PNG:", img.Bounds().Dx(), "x", img.Bounds().Dy())

	svg, _ := qrcode.SVG(uri)
	fmt.Println("SVG starts with <svg:", bytes.HasPrefix(svg, []byte("<svg ")))

	fmt.Println("terminal lines:", strings.Count(qrcode.Terminal(uri), "\n"))

	_, err = qrcode.SVG(strings.Repeat("x", qrcode.MaxBytes+1))
	fmt.Println(err)
	// Output:
	// PNG: 256 x 256
	// SVG starts with <svg: true
	// terminal lines: 21
	// qrcode: content longer than 2331 bytes does not fit in a QR code (got 2332)
}
