package qrcode

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"
)

const deviceURL = "https://auth.example.com/device?user_code=WDJB-MJHT"

// scan decodes a QR code from img with a real decoder (a Go port of ZXing),
// the way a phone camera app would.
func scan(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_PURE_BARCODE: false,
	})
	require.NoError(t, err, "the rendered code must scan")
	return res.GetText()
}

// rasterize draws m at 4 pixels per module.
func rasterize(m matrix) image.Image {
	const scale = 4
	n := m.size()
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for y := 0; y < n*scale; y++ {
		for x := 0; x < n*scale; x++ {
			c := color.Gray{Y: 0xff}
			if m.dark(x/scale, y/scale) {
				c = color.Gray{}
			}
			img.SetGray(x, y, c)
		}
	}
	return img
}

func newMatrix(n int) matrix {
	m := make(matrix, n)
	for i := range m {
		m[i] = make([]bool, n)
	}
	return m
}

func TestEncodeHasQuietZoneAndFinderPatterns(t *testing.T) {
	t.Parallel()
	m, err := encode(deviceURL)
	require.NoError(t, err)
	n := m.size()
	require.Zero(t, (n-2*QuietZone-21)%4, "a QR code is 17+4v modules wide")
	for i := 0; i < n; i++ {
		for q := 0; q < QuietZone; q++ {
			require.False(t, m.dark(i, q) || m.dark(i, n-1-q) || m.dark(q, i) || m.dark(n-1-q, i),
				"quiet zone must be light at %d,%d", i, q)
		}
	}
	// The three finder patterns have a dark 7x7 outline at the corners.
	for _, corner := range [][2]int{{QuietZone, QuietZone}, {n - QuietZone - 7, QuietZone}, {QuietZone, n - QuietZone - 7}} {
		for i := 0; i < 7; i++ {
			x, y := corner[0], corner[1]
			require.True(t, m.dark(x+i, y) && m.dark(x+i, y+6) && m.dark(x, y+i) && m.dark(x+6, y+i))
		}
	}
	require.Equal(t, deviceURL, scan(t, rasterize(m)))
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		content string
		want    error
	}{
		{"empty", "", ErrEmpty},
		{"one byte too long", strings.Repeat("x", MaxBytes+1), ErrTooLong},
		{"far too long", strings.Repeat("é", MaxBytes), ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := PNG(tc.content, 256)
			require.ErrorIs(t, err, tc.want)
			require.Less(t, len(err.Error()), 200, "the error must not repeat the content")
			_, err = SVG(tc.content)
			require.ErrorIs(t, err, tc.want)
			require.Empty(t, Terminal(tc.content))
		})
	}
}

func TestLongestContentFits(t *testing.T) {
	t.Parallel()
	m, err := encode(strings.Repeat("x", MaxBytes))
	require.NoError(t, err)
	require.Equal(t, 177+2*QuietZone, m.size(), "version 40")
}

func TestPNG(t *testing.T) {
	t.Parallel()
	m, err := encode(deviceURL)
	require.NoError(t, err)
	n := m.size()

	for _, tc := range []struct {
		name string
		size int
	}{
		{"one pixel per module", n},
		{"typical", 256},
		{"size not a multiple of the module count", 5*n + 3},
		{"large", 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, err := PNG(deviceURL, tc.size)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, tc.size, tc.size), img.Bounds())

			// Corners are light (quiet zone) and the top-left finder is dark.
			scale, offset := tc.size/n, (tc.size-tc.size/n*n)/2
			light := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r > 0x8000 }
			require.True(t, light(0, 0) && light(tc.size-1, tc.size-1))
			require.False(t, light(offset+QuietZone*scale, offset+QuietZone*scale))

			if scale > 1 {
				require.Equal(t, deviceURL, scan(t, img))
			}
		})
	}

	t.Run("too small", func(t *testing.T) {
		t.Parallel()
		_, err := PNG(deviceURL, n-1)
		require.ErrorContains(t, err, "too small")
		_, err = PNG(deviceURL, 0)
		require.Error(t, err)
		_, err = PNG(deviceURL, -5)
		require.Error(t, err)
	})
}

func TestSVG(t *testing.T) {
	t.Parallel()
	data, err := SVG(deviceURL)
	require.NoError(t, err)
	want, err := encode(deviceURL)
	require.NoError(t, err)
	n := want.size()

	got := newMatrix(n)
	var darkRects, rects int
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "SVG must be well-formed XML")
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range el.Attr {
			attr[a.Name.Local] = a.Value
		}
		switch el.Name.Local {
		case "svg":
			require.Equal(t, "http://www.w3.org/2000/svg", el.Name.Space)
			require.Equal(t, "0 0 "+strconv.Itoa(n)+" "+strconv.Itoa(n), attr["viewBox"])
			require.Equal(t, "crispEdges", attr["shape-rendering"])
		case "rect":
			rects++
			if attr["x"] == "" { // the background
				require.Equal(t, strconv.Itoa(n), attr["width"])
				require.Equal(t, "#fff", attr["fill"])
				continue
			}
			darkRects++
			x, err := strconv.Atoi(attr["x"])
			require.NoError(t, err)
			y, err := strconv.Atoi(attr["y"])
			require.NoError(t, err)
			require.Equal(t, "1", attr["width"])
			require.Equal(t, "1", attr["height"])
			got[y][x] = true
		}
	}

	var dark int
	for y := range want {
		for x := range want[y] {
			if want.dark(x, y) {
				dark++
			}
		}
	}
	require.Equal(t, dark, darkRects, "one rect per dark module")
	require.Equal(t, dark+1, rects, "plus one background rect")
	require.Equal(t, want, got)
	require.Equal(t, deviceURL, scan(t, rasterize(got)))
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	out := Terminal(deviceURL)
	want, err := encode(deviceURL)
	require.NoError(t, err)
	n := want.size()

	require.True(t, strings.HasSuffix(out, "\n"))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, (n+1)/2, "two module rows per line")

	got := newMatrix(n + 1)
	for row, line := range lines {
		require.True(t, strings.HasPrefix(line, termColors), "each line sets its colours")
		require.True(t, strings.HasSuffix(line, termReset), "each line resets its colours")
		cells := []rune(strings.TrimSuffix(strings.TrimPrefix(line, termColors), termReset))
		require.Len(t, cells, n)
		for x, c := range cells {
			y := 2 * row
			switch c {
			case '█':
				got[y][x], got[y+1][x] = true, true
			case '▀':
				got[y][x] = true
			case '▄':
				got[y+1][x] = true
			case ' ':
			default:
				t.Fatalf("unexpected character %q", c)
			}
		}
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			require.Equal(t, want.dark(x, y), got.dark(x, y), "module %d,%d", x, y)
		}
	}
	require.Equal(t, deviceURL, scan(t, rasterize(got)))
}

// FuzzEncode checks that any input either encodes to a well-formed code with a
// light quiet zone or is rejected with an error, never a panic.
func FuzzEncode(f *testing.F) {
	f.Add(deviceURL)
	f.Add("0123456789")
	f.Add("HELLO WORLD")
	f.Add("\x00\xff")
	f.Fuzz(func(t *testing.T, content string) {
		m, err := encode(content)
		if err != nil {
			require.True(t, errors.Is(err, ErrEmpty) || errors.Is(err, ErrTooLong), err)
			return
		}
		n := m.size()
		require.Zero(t, (n-2*QuietZone-21)%4)
		for i := 0; i < n; i++ {
			require.False(t, m.dark(i, 0) || m.dark(0, i) || m.dark(i, n-1) || m.dark(n-1, i))
		}
		require.Len(t, strings.Split(strings.TrimSuffix(Terminal(content), "\n"), "\n"), (n+1)/2)
	})
}
