package signin

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReturnPathLength is the longest return path ReturnPath accepts, in bytes.
const MaxReturnPathLength = 2048

// maxDecodeRounds is how many times ReturnPath percent-decodes a path to see what a server that decodes
// (once, or more than once) would make of it.
const maxDecodeRounds = 3

// ReturnPath returns p when it is a path on the server's own origin, and "/" otherwise: a page to send
// a person to after signing in, taken from a request parameter, that can not send them to another
// origin.
//
// A browser resolves a Location header by the WHATWG URL Standard, not by RFC 3986: it removes tabs and
// newlines anywhere, reads a backslash as a slash, and treats "//host" as another origin, so
// "/\t/evil.example" and "/\evil.example" both leave the site. ReturnPath therefore accepts p only when
//
//   - it starts with exactly one "/" (RFC 3986 §4.2 path-absolute: no scheme, no authority);
//   - it is valid UTF-8 of at most MaxReturnPathLength bytes, with no control character anywhere
//     (C0 including tab, CR, LF and NUL; DEL; C1) and no backslash;
//   - it parses as a URL reference with an empty scheme and host; and
//   - its path, percent-decoded (up to three times, as a server that decodes again would, for as long as
//     the escapes are valid), still has
//     no control character, no backslash, no leading "//" and no "." or ".." segment, so that neither a
//     server along the way nor dot-segment removal (RFC 3986 §5.2.4) can turn it into "//host".
//
// A browser never decodes "%2F" or "%09" in a path itself; refusing such paths costs nothing, as no
// page of a server needs them in a return path.
func ReturnPath(p string) string {
	if !isReturnPath(p) {
		return "/"
	}
	return p
}

func isReturnPath(p string) bool {
	if len(p) == 0 || len(p) > MaxReturnPathLength || !utf8.ValidString(p) || !cleanPath(p) {
		return false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	path, _, _ := strings.Cut(p, "?")
	path, _, _ = strings.Cut(path, "#")
	for i := 0; i < maxDecodeRounds && strings.Contains(path, "%"); i++ {
		d, err := url.PathUnescape(path)
		if err != nil {
			break // a server decoding this again fails instead of redirecting (the first round can not fail: url.Parse checked the escapes)
		}
		if !utf8.ValidString(d) || !cleanPath(d) {
			return false
		}
		path = d
	}
	return true
}

// cleanPath reports whether s starts with exactly one slash, contains no control character and no
// backslash anywhere, and has no "." or ".." segment in its path.
func cleanPath(s string) bool {
	if s[0] != '/' || (len(s) > 1 && s[1] == '/') {
		return false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsControl(r) {
			return false
		}
	}
	path, _, _ := strings.Cut(s, "?")
	path, _, _ = strings.Cut(path, "#")
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
