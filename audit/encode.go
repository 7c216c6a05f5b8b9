package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// newBody returns the JSON of e's claims, except "seq" and "prev", which depend on where in the chain
// it lands (chainPayload puts them in front). It writes the bytes encoding/json would write for those
// claims (iss, iat, jti, aud, sub_id, toe, txn, events, in that order), with the event's members
// sorted by name like a map, but without reflection: it runs
// for every audited request. encode_test.go checks it against encoding/json.
func newBody(e Event, iss string, aud []string, iat time.Time, jti string) ([]byte, error) {
	type member struct {
		name  string
		value any
	}
	members := make([]member, 0, len(e.Data)+3)
	for k, v := range e.Data {
		members = append(members, member{k, v})
	}
	for _, m := range []member{{claimGrant, e.Grant}, {claimActor, e.Actor}, {claimClientID, e.ClientID}} {
		if m.value != "" {
			members = append(members, m)
		}
	}
	slices.SortFunc(members, func(a, b member) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})

	b := make([]byte, 0, 320)
	b = append(b, `{"iss":`...)
	b = appendString(b, iss)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat.Unix(), 10)
	b = append(b, `,"jti":`...)
	b = appendString(b, jti)
	switch len(aud) { // go-jose's jwt.Audience: one audience is a string
	case 0:
	case 1:
		b = append(b, `,"aud":`...)
		b = appendString(b, aud[0])
	default:
		b = append(b, `,"aud":[`...)
		for i, a := range aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	if e.Subject != "" {
		b = append(b, `,"sub_id":{"format":"opaque","id":`...)
		b = appendString(b, e.Subject)
		b = append(b, '}')
	}
	b = append(b, `,"toe":`...)
	b = strconv.AppendInt(b, e.Time.Unix(), 10)
	if e.RequestID != "" {
		b = append(b, `,"txn":`...)
		b = appendString(b, e.RequestID)
	}
	b = append(b, `,"events":{`...)
	b = appendString(b, e.Type)
	b = append(b, `:{`...)
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.name)
		b = append(b, ':')
		if s, ok := m.value.(string); ok {
			b = appendString(b, s)
			continue
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, fmt.Errorf("audit: event data %q does not marshal to JSON: %w", m.name, err)
		}
		b = append(b, v...)
	}
	return append(b, "}}}"...), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json escapes it by default: quotes,
// backslashes and control characters, the HTML characters <, > and &, U+2028 and U+2029, and invalid
// UTF-8 (as U+FFFD).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
