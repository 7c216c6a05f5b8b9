package otp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/otp"
)

func TestDefaultMask(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		typ  otp.ChannelType
		in   string
		want string
	}{
		{"e164", otp.SMS, "+15551234567", "***-***-4567"},
		{"formatted", otp.Voice, "+1 (555) 123-4567", "***-***-4567"},
		{"too short to show digits", otp.SMS, "12345", "***-***-****"},
		{"empty phone", otp.SMS, "", "***-***-****"},
		{"email", otp.Email, "hello@example.com", "h***@e***.com"},
		{"email upper-case domain", otp.Email, "Hello@Example.CO.UK", "H***@e***.uk"},
		{"email with name", otp.Email, "Ann <ann@mail.example.org>", "a***@m***.org"},
		{"email non-ASCII first letter", otp.Email, "élise@example.fr", "é***@e***.fr"},
		{"not an email", otp.Email, "nobody", "***@***"},
		{"no domain dot", otp.Email, "a@localhost", "***@***"},
		{"empty local", otp.Email, "@example.com", "***@***"},
		{"unknown type", otp.ChannelType("pigeon"), "loft 7", "***"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := otp.DefaultMask{}.Mask(context.Background(), tc.typ, tc.in)
			require.Equal(t, tc.want, got)
			if tc.in != "" {
				require.NotEqual(t, tc.in, got, "never the address itself")
			}
		})
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"+15551234567", "a@b.c", "", "@", "<>", "x@y.", "\xff@\xfe.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, typ := range []otp.ChannelType{otp.SMS, otp.Email, otp.Voice} {
			got := otp.DefaultMask{}.Mask(context.Background(), typ, in)
			require.Contains(t, got, "***")
			if len(in) > 12 {
				require.NotEqual(t, in, got)
			}
		}
	})
}
