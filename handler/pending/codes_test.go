package pending_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ory/fosite"
	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/pending"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newCodes() *pending.Codes {
	return pending.NewCodes(&fosite.Config{GlobalSecret: testSecret})
}

func TestUserCodeFormatValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format pending.UserCodeFormat
		ok     bool
	}{
		{"base20", pending.UserCodeBase20, true},
		{"digits", pending.UserCodeDigits, true},
		{"minimal", pending.UserCodeFormat{Alphabet: "AB", Length: 6}, true},
		{"too short", pending.UserCodeFormat{Alphabet: "ABCDEF", Length: 5}, false},
		{"alphabet of one", pending.UserCodeFormat{Alphabet: "A", Length: 8}, false},
		{"empty alphabet", pending.UserCodeFormat{Length: 8}, false},
		{"zero value", pending.UserCodeFormat{}, false},
		{"lower case", pending.UserCodeFormat{Alphabet: "abcdef", Length: 8}, false},
		{"punctuation", pending.UserCodeFormat{Alphabet: "ABC-", Length: 8}, false},
		{"non-ASCII", pending.UserCodeFormat{Alphabet: "ABCÄ", Length: 8}, false},
		{"repeated character", pending.UserCodeFormat{Alphabet: "ABCA", Length: 8}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.format.Validate()
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestUserCodeFormatGenerate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format pending.UserCodeFormat
	}{
		{"base20", pending.UserCodeBase20},
		{"digits", pending.UserCodeDigits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const draws = 20000
			counts := map[rune]int{}
			for i := 0; i < draws; i++ {
				code, err := tc.format.Generate(nil)
				require.NoError(t, err)
				require.Len(t, code, tc.format.Length)
				for _, c := range code {
					require.True(t, strings.ContainsRune(tc.format.Alphabet, c), "%q is not in the alphabet", c)
					counts[c]++
				}
			}
			// A statistical sanity check with bounds so loose it cannot flake: with 160000 characters
			// over 20 symbols the mean is 8000 and the standard deviation about 87.
			mean := float64(draws*tc.format.Length) / float64(len(tc.format.Alphabet))
			for _, c := range tc.format.Alphabet {
				require.Positive(t, counts[c], "%q never drawn", c)
				require.Less(t, float64(counts[c]), 2*mean, "%q drawn far too often", c)
				require.Greater(t, float64(counts[c]), mean/2, "%q drawn far too rarely", c)
			}
		})
	}

	t.Run("uses the given reader", func(t *testing.T) {
		t.Parallel()
		r := bytes.NewReader(bytes.Repeat([]byte{0}, 64))
		code, err := pending.UserCodeBase20.Generate(r)
		require.NoError(t, err)
		require.Equal(t, "BBBBBBBB", code)
	})
	t.Run("reader failure is an error", func(t *testing.T) {
		t.Parallel()
		_, err := pending.UserCodeBase20.Generate(bytes.NewReader(nil))
		require.Error(t, err)
	})
}

func TestUserCodeFormatNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		format         pending.UserCodeFormat
	}{
		{"displayed", "WDJB-MJHT", "WDJBMJHT", pending.UserCodeBase20},
		{"lower case", "wdjb-mjht", "WDJBMJHT", pending.UserCodeBase20},
		{"spaces around and inside", " WDJB MJHT ", "WDJBMJHT", pending.UserCodeBase20},
		{"tabs and newline", "\tWDJB\nMJHT\r\n", "WDJBMJHT", pending.UserCodeBase20},
		{"vowels dropped", "WADJBE-MIJHOTU", "WDJBMJHT", pending.UserCodeBase20},
		{"digits dropped", "WDJB0-MJHT1", "WDJBMJHT", pending.UserCodeBase20},
		{"punctuation dropped", "W.D,J;B:M/J_H+T", "WDJBMJHT", pending.UserCodeBase20},
		{"unicode dropped", "WDJB—MJHT", "WDJBMJHT", pending.UserCodeBase20},
		{"fullwidth letters dropped", "ＷＤＪＢMJHT", "MJHT", pending.UserCodeBase20},
		{"dotless i is not I", "ıWDJB", "WDJB", pending.UserCodeBase20},
		{"invalid UTF-8 dropped", "WDJB\xff\xfeMJHT", "WDJBMJHT", pending.UserCodeBase20},
		{"empty", "", "", pending.UserCodeBase20},
		{"only noise", "---  ...", "", pending.UserCodeBase20},
		{"digits format", "019-450-730", "019450730", pending.UserCodeDigits},
		{"digits format drops letters", "o19 450 73O", "1945073", pending.UserCodeDigits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.format.Normalize(tc.in))
		})
	}
}

func TestUserCodeFormatDisplay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		format         pending.UserCodeFormat
	}{
		{"base20", "WDJBMJHT", "WDJB-MJHT", pending.UserCodeBase20},
		{"digits", "019450730", "019-450-730", pending.UserCodeDigits},
		{"one group", "WDJB", "WDJB", pending.UserCodeBase20},
		{"partial last group", "WDJBMJ", "WDJB-MJ", pending.UserCodeBase20},
		{"empty", "", "", pending.UserCodeBase20},
		{"no grouping", "WDJBMJHT", "WDJBMJHT", pending.UserCodeFormat{Alphabet: "BCDFGHJKLMNPQRSTVWXZ", Length: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.format.Display(tc.in))
		})
	}
}

// FuzzNormalize checks the properties of Normalize on any input (RFC 8628 §6.1): the output holds only
// alphabet characters, normalising twice changes nothing, and a displayed code normalises back to itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"WDJB-MJHT", "wdjb-mjht", " WDJB MJHT ", "AEIOU", "ＷＤＪＢ", "\xff", "019-450-730", ""} {
		f.Add(s)
	}
	formats := []pending.UserCodeFormat{pending.UserCodeBase20, pending.UserCodeDigits}
	f.Fuzz(func(t *testing.T, in string) {
		for _, format := range formats {
			out := format.Normalize(in)
			for i := 0; i < len(out); i++ {
				if strings.IndexByte(format.Alphabet, out[i]) < 0 {
					t.Fatalf("Normalize(%q) = %q holds %q, outside the alphabet", in, out, out[i])
				}
			}
			if again := format.Normalize(out); again != out {
				t.Fatalf("Normalize is not idempotent: %q → %q → %q", in, out, again)
			}
			if !utf8.ValidString(out) {
				t.Fatalf("Normalize(%q) is not valid UTF-8", in)
			}
			// out is a valid (normalised) code of some length: Display must round-trip.
			if back := format.Normalize(format.Display(out)); back != out {
				t.Fatalf("Normalize(Display(%q)) = %q", out, back)
			}
		}
	})
}

func TestCodesHandles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCodes()
	handle, sig, err := c.NewHandle(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, sig)
	require.NotContains(t, sig, handle)

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		got, err := c.HandleSignature(ctx, handle)
		require.NoError(t, err)
		require.Equal(t, sig, got)
	})
	t.Run("URL and CIBA safe characters", func(t *testing.T) {
		t.Parallel()
		for _, r := range handle {
			ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
			require.True(t, ok, "handle holds %q", r)
		}
	})
	t.Run("handles differ", func(t *testing.T) {
		t.Parallel()
		other, otherSig, err := c.NewHandle(ctx)
		require.NoError(t, err)
		require.NotEqual(t, handle, other)
		require.NotEqual(t, sig, otherSig)
	})
	t.Run("another secret does not accept it", func(t *testing.T) {
		t.Parallel()
		o := pending.NewCodes(&fosite.Config{GlobalSecret: []byte("fedcba9876543210fedcba9876543210")})
		_, err := o.HandleSignature(ctx, handle)
		require.ErrorIs(t, err, fosite.ErrInvalidGrant)
	})

	dot := strings.IndexByte(handle, '.')
	require.Positive(t, dot)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct{ name, handle string }{
		{"empty", ""},
		{"key tampered", flip(handle, 0)},
		{"signature tampered", flip(handle, dot+1)},
		{"parts swapped", handle[dot+1:] + "." + handle[:dot]},
		{"signature only", handle[dot+1:]},
		{"key only", handle[:dot]},
		{"truncated", handle[:len(handle)-4]},
		{"extended", handle + "AAAA"},
		{"extra part", handle + ".AAAA"},
		{"garbage", "not a device code"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.HandleSignature(ctx, tc.handle)
			require.ErrorIs(t, err, fosite.ErrInvalidGrant)
			require.Equal(t, "invalid_grant", fosite.ErrorToRFC6749Error(err).ErrorField)
		})
	}
}

func TestCodesUserCodeSignature(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCodes()
	sign := func(t *testing.T, kind pending.Kind, code string) string {
		t.Helper()
		s, err := c.UserCodeSignature(ctx, kind, code)
		require.NoError(t, err)
		return s
	}
	base := sign(t, pending.KindDeviceCode, "WDJBMJHT")

	t.Run("stable", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, base, sign(t, pending.KindDeviceCode, "WDJBMJHT"))
		again, err := newCodes().UserCodeSignature(ctx, pending.KindDeviceCode, "WDJBMJHT")
		require.NoError(t, err)
		require.Equal(t, base, again, "a new Codes with the same secret agrees")
	})
	t.Run("differs by kind", func(t *testing.T) {
		t.Parallel()
		for _, k := range []pending.Kind{pending.KindCIBA, pending.KindOTP} {
			require.NotEqual(t, base, sign(t, k, "WDJBMJHT"), k)
		}
	})
	t.Run("differs by code", func(t *testing.T) {
		t.Parallel()
		require.NotEqual(t, base, sign(t, pending.KindDeviceCode, "WDJBMJHV"))
		require.NotEqual(t, base, sign(t, pending.KindDeviceCode, "WDJBMJH"))
	})
	t.Run("kind and code do not run together", func(t *testing.T) {
		t.Parallel()
		require.NotEqual(t, sign(t, "ab", "CD"), sign(t, "a", "BCD"))
	})
	t.Run("differs by secret", func(t *testing.T) {
		t.Parallel()
		o := pending.NewCodes(&fosite.Config{GlobalSecret: []byte("fedcba9876543210fedcba9876543210")})
		s, err := o.UserCodeSignature(ctx, pending.KindDeviceCode, "WDJBMJHT")
		require.NoError(t, err)
		require.NotEqual(t, base, s)
	})
	t.Run("never contains the code", func(t *testing.T) {
		t.Parallel()
		for _, code := range []string{"WDJBMJHT", "019450730", "BBBBBBBB"} {
			s := sign(t, pending.KindDeviceCode, code)
			require.NotContains(t, s, code)
			require.NotContains(t, strings.ToUpper(s), code)
		}
	})
	t.Run("empty code refused", func(t *testing.T) {
		t.Parallel()
		_, err := c.UserCodeSignature(ctx, pending.KindDeviceCode, "")
		require.Error(t, err)
	})
	t.Run("short secret refused", func(t *testing.T) {
		t.Parallel()
		o := pending.NewCodes(&fosite.Config{GlobalSecret: []byte("too short")})
		_, err := o.UserCodeSignature(ctx, pending.KindDeviceCode, "WDJBMJHT")
		require.Error(t, err)
	})
}

// TestGenerateInvalidFormat: a misconfigured format is an error, never a panic.
func TestGenerateInvalidFormat(t *testing.T) {
	t.Parallel()
	for _, f := range []pending.UserCodeFormat{{Length: 8}, {Alphabet: "abcdefgh", Length: 8}} {
		_, err := f.Generate(nil)
		require.Error(t, err)
	}
}
