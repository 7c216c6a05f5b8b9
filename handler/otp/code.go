package otp

import (
	"context"

	"github.com/fosite-contrib/grants/handler/pending"
)

// CodeFormat is the format of one-time codes of n digits: drawn uniformly with crypto/rand and no modulo
// bias (pending.UserCodeFormat.Generate), shown without separators.
func CodeFormat(n int) pending.UserCodeFormat {
	return pending.UserCodeFormat{Alphabet: "0123456789", Length: n}
}

// NormalizeCode turns what a person typed into the code to compare: ASCII digits are kept, spaces,
// dashes and dots (which people type between groups) are dropped, and anything else makes the input
// invalid (ok is false), so that "12345a" is not read as "12345". Full-width and other non-ASCII digits
// are refused too. The result is at most 16 digits long; longer input is invalid.
func NormalizeCode(input string) (code string, ok bool) {
	out := make([]byte, 0, 8)
	for i := 0; i < len(input); i++ {
		switch c := input[i]; {
		case c >= '0' && c <= '9':
			if len(out) == 16 {
				return "", false
			}
			out = append(out, c)
		case c == ' ' || c == '-' || c == '.' || c == '\t':
		default:
			return "", false
		}
	}
	if len(out) == 0 {
		return "", false
	}
	return string(out), true
}

// codeSignature is the keyed hash a challenge's code is stored under. The challenge's handle signature is
// part of the hashed value, so that a code is bound to its challenge: the same digits sent to two
// challenges hash differently, and a code can only ever match the challenge it was sent for.
func codeSignature(ctx context.Context, codes *pending.Codes, handleSignature, code string) (string, error) {
	return codes.UserCodeSignature(ctx, pending.KindOTP, handleSignature+":"+code)
}
