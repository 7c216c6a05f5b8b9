package smschannel

import (
	"strings"
	"unicode/utf8"
)

// MaxReplyLength bounds the replies ParseReply reads, in bytes: two concatenated text messages. Longer
// replies are not answers to a prompt.
const MaxReplyLength = 320

// Reply is a person's answer to a prompt, as ParseReply reads it.
type Reply struct {
	// Approve is true for an approval (YES), false for a denial (NO).
	Approve bool
	// Code is the short code the prompt gave: ASCII digits only.
	Code string
	// Answers are the words after the code, in order: the knowledge-check answers of an approval.
	Answers []string
}

// The words ParseReply takes for yes and no, in the languages of the shipped templates. STOP and
// similar words are not among them: carriers reserve them for unsubscribing.
var (
	yesWords = map[string]bool{"YES": true, "Y": true, "OK": true, "APPROVE": true, "ALLOW": true, "JA": true, "J": true}
	noWords  = map[string]bool{"NO": true, "N": true, "DENY": true, "NEIN": true}
)

// ParseReply reads a reply to a prompt: a yes or no word, then the code of digits digits, then any
// answers, separated by spaces (commas, and a "+" the person copied from the prompt, count as spaces),
// in any letter case: "YES 4821", "no 4821", "Yes 4821 1001". Anything else, and any reply longer
// than MaxReplyLength or not valid UTF-8, is not a reply (ok false).
func ParseReply(body string, digits int) (r Reply, ok bool) {
	if len(body) > MaxReplyLength || !utf8.ValidString(body) || digits <= 0 {
		return Reply{}, false
	}
	words := strings.FieldsFunc(body, func(c rune) bool {
		return c == ',' || c == '+' || c == ';' || strings.ContainsRune(" \t\r\n\u00a0", c)
	})
	if len(words) < 2 {
		return Reply{}, false
	}
	word := strings.ToUpper(strings.TrimRight(words[0], ".!:"))
	switch {
	case yesWords[word]:
		r.Approve = true
	case noWords[word]:
	default:
		return Reply{}, false
	}
	code := strings.TrimRight(words[1], ".!")
	if len(code) != digits {
		return Reply{}, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return Reply{}, false
		}
	}
	r.Code = code
	if len(words) > 2 {
		r.Answers = words[2:]
	}
	return r, true
}
