package qrcode

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// PNG returns a size×size pixel PNG image of a QR code for content. Each
// module is drawn as a whole number of pixels so that edges stay sharp; any
// pixels left over widen the light border evenly. size must leave at least
// one pixel per module, quiet zone included (for a typical device URL, about
// 41 pixels; 256 or more is a comfortable size to scan from a screen).
func PNG(content string, size int) ([]byte, error) {
	m, err := encode(content)
	if err != nil {
		return nil, err
	}
	n := m.size()
	scale := size / n
	if scale < 1 {
		return nil, fmt.Errorf("qrcode: size %d is too small for a %d-module code (need at least %d pixels)", size, n, n)
	}
	offset := (size - scale*n) / 2

	palette := color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0x00}}
	img := image.NewPaletted(image.Rect(0, 0, size, size), palette) // all light
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !m.dark(x, y) {
				continue
			}
			for py := 0; py < scale; py++ {
				row := img.Pix[img.PixOffset(offset+x*scale, offset+y*scale+py):]
				for px := 0; px < scale; px++ {
					row[px] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qrcode: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}
