package qrcode

import (
	"errors"
	"fmt"
	"image/color"

	"github.com/boombuler/barcode/qr"
)

// QuietZone is the width, in modules, of the light border drawn around every
// code (ISO/IEC 18004 §6.3.8 requires at least four).
const QuietZone = 4

// MaxBytes is the longest content, in bytes, that fits in a QR code at error
// correction level M (version 40, byte mode).
const MaxBytes = 2331

// ErrEmpty is returned for empty content.
var ErrEmpty = errors.New("qrcode: content is empty")

// ErrTooLong is returned for content longer than MaxBytes.
var ErrTooLong = fmt.Errorf("qrcode: content longer than %d bytes does not fit in a QR code", MaxBytes)

// matrix is a square grid of modules, true meaning dark, quiet zone included.
type matrix [][]bool

// encode returns the module matrix of content with the quiet zone around it.
func encode(content string) (matrix, error) {
	switch {
	case content == "":
		return nil, ErrEmpty
	case len(content) > MaxBytes:
		return nil, fmt.Errorf("%w (got %d)", ErrTooLong, len(content))
	}
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		// The library's message repeats the whole content; keep ours short.
		return nil, fmt.Errorf("qrcode: cannot encode %d bytes: %w", len(content), ErrTooLong)
	}
	dim := code.Bounds().Dx()
	n := dim + 2*QuietZone
	m := make(matrix, n)
	for y := range m {
		m[y] = make([]bool, n)
	}
	for y := 0; y < dim; y++ {
		for x := 0; x < dim; x++ {
			m[y+QuietZone][x+QuietZone] = color.GrayModel.Convert(code.At(x, y)).(color.Gray).Y < 0x80
		}
	}
	return m, nil
}

// size returns the width (and height) of m in modules.
func (m matrix) size() int { return len(m) }

// dark reports whether the module at column x, row y is dark; positions
// outside the matrix are light, like the quiet zone.
func (m matrix) dark(x, y int) bool {
	if y < 0 || y >= len(m) || x < 0 || x >= len(m) {
		return false
	}
	return m[y][x]
}
