package smschannel_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

func TestParseReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want smschannel.Reply
		ok   bool
	}{
		{"YES 4821", smschannel.Reply{Approve: true, Code: "4821"}, true},
		{"no 4821", smschannel.Reply{Code: "4821"}, true},
		{"  Yes   4821  ", smschannel.Reply{Approve: true, Code: "4821"}, true},
		{"Yes. 4821!", smschannel.Reply{Approve: true, Code: "4821"}, true},
		{"y 0007", smschannel.Reply{Approve: true, Code: "0007"}, true},
		{"ja 4821", smschannel.Reply{Approve: true, Code: "4821"}, true},
		{"NEIN 4821", smschannel.Reply{Code: "4821"}, true},
		{"YES 4821 1001", smschannel.Reply{Approve: true, Code: "4821", Answers: []string{"1001"}}, true},
		{"YES 4821 + 1001", smschannel.Reply{Approve: true, Code: "4821", Answers: []string{"1001"}}, true},
		{"YES, 4821, 12 Main St", smschannel.Reply{Approve: true, Code: "4821", Answers: []string{"12", "Main", "St"}}, true},
		{"YES\n4821", smschannel.Reply{Approve: true, Code: "4821"}, true},
		{"YES", smschannel.Reply{}, false},
		{"4821", smschannel.Reply{}, false},
		{"YES 482", smschannel.Reply{}, false},
		{"YES 48210", smschannel.Reply{}, false},
		{"YES 48a1", smschannel.Reply{}, false},
		{"YES ٤٨٢١", smschannel.Reply{}, false}, // Arabic-Indic digits are not ASCII digits
		{"STOP 4821", smschannel.Reply{}, false},
		{"maybe 4821", smschannel.Reply{}, false},
		{"thanks!", smschannel.Reply{}, false},
		{"", smschannel.Reply{}, false},
		{"YES 4821 \xff", smschannel.Reply{}, false},
		{"YES 4821 " + strings.Repeat("a", smschannel.MaxReplyLength), smschannel.Reply{}, false},
	} {
		t.Run(tc.body, func(t *testing.T) {
			got, ok := smschannel.ParseReply(tc.body, 4)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

// FuzzParseReply: whatever arrives, a reply is only ever a yes or no word and a code of exactly the
// asked number of ASCII digits, and nothing panics.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"YES 4821", "no 0000 1 2 3", "Ja, 4821, 1865-11-26", "Y\t1234", "\x00", "YES 4821 \xff"} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, body string, digits int) {
		r, ok := smschannel.ParseReply(body, digits)
		if !ok {
			require.Equal(t, smschannel.Reply{}, r)
			return
		}
		require.True(t, utf8.ValidString(body))
		require.LessOrEqual(t, len(body), smschannel.MaxReplyLength)
		require.Len(t, r.Code, digits)
		for _, c := range r.Code {
			require.True(t, c >= '0' && c <= '9', "code %q", r.Code)
		}
		require.Contains(t, body, r.Code)
	})
}

// FuzzNormalizePhone: a number that passes is E.164 and normalising it again changes nothing.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+15550100004", "+1 (555) 010-0004", "0041 44 668 18 00", "+", "00", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := smschannel.NormalizePhone(s)
		if !ok {
			require.Empty(t, p)
			return
		}
		require.Regexp(t, `^\+[1-9][0-9]{6,14}$`, p)
		again, ok := smschannel.NormalizePhone(p)
		require.True(t, ok)
		require.Equal(t, p, again)
	})
}
