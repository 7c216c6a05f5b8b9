package qrcode

import "strings"

// ANSI SGR sequences: black foreground on bright white background, and reset.
const (
	termColors = "\x1b[30;107m"
	termReset  = "\x1b[0m"
)

// Terminal returns a QR code for content drawn with Unicode half blocks, two
// module rows per text line, for printing to a terminal. Each line sets black
// on bright white explicitly and resets at its end, so the code has the right
// polarity (dark modules on a light quiet zone) whether the terminal is dark
// on light or light on dark. The result ends with a newline.
//
// Terminal returns "" when content cannot be encoded (empty or longer than
// MaxBytes); callers should always print the URI as text as well.
func Terminal(content string) string {
	m, err := encode(content)
	if err != nil {
		return ""
	}
	n := m.size()
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		b.WriteString(termColors)
		for x := 0; x < n; x++ {
			top, bottom := m.dark(x, y), m.dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString(termReset)
		b.WriteByte('\n')
	}
	return b.String()
}
