package qrcode

import (
	"bytes"
	"fmt"
)

// SVG returns a standalone SVG image of a QR code for content. One user unit
// is one module: the viewBox spans the code and its quiet zone, a white
// rectangle fills it, and each dark module is a black unit square. The image
// has no fixed width or height, so it fills whatever box the page gives it,
// and shape-rendering="crispEdges" keeps module edges sharp when scaled.
func SVG(content string) ([]byte, error) {
	m, err := encode(content)
	if err != nil {
		return nil, err
	}
	n := m.size()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	b.WriteByte('\n')
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, n, n)
	b.WriteString("\n<g fill=\"#000\">\n")
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if m.dark(x, y) {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1"/>`, x, y)
			}
		}
		b.WriteByte('\n')
	}
	b.WriteString("</g>\n</svg>\n")
	return b.Bytes(), nil
}
