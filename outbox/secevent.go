package outbox

import (
	"encoding/json"
	"io"
	"strings"
)

// KindSecurityEvent is a Security Event Token (RFC 8417) pushed to a SET receiver (RFC 8935).
// Webhook delivers it with RFC 8935's semantics rather than CIBA's: only 202 Accepted is success,
// and a 400 carries the receiver's error code. Build it with SecurityEventMessage.
const KindSecurityEvent = "secevent.push"

// SETContentType is the media type of a SET in an RFC 8935 push (RFC 8417 Section 8.2).
const SETContentType = "application/secevent+jwt"

// SecurityEventMessage returns the message that pushes the signed SET set to a receiver's endpoint
// target (RFC 8935 Section 2.1): a POST with "Content-Type: application/secevent+jwt" and
// "Accept: application/json", authenticated with "Authorization: Bearer <token>" (RFC 6750 §2.1)
// when bearerToken is not empty. Header and body are sealed at rest. Its Kind is KindSecurityEvent.
func SecurityEventMessage(id, target, bearerToken string, set []byte) Message {
	h := map[string]string{"Content-Type": SETContentType, "Accept": "application/json"}
	if bearerToken != "" {
		h["Authorization"] = "Bearer " + bearerToken
	}
	return Message{ID: id, Kind: KindSecurityEvent, Target: target, Header: h, Body: set}
}

// maxSETErrorBytes is how much of a receiver's 400 answer is read for its error code.
const maxSETErrorBytes = 4 << 10

// setRefusal reads an RFC 8935 Section 2.3 error answer ({"err": "invalid_key", "description":
// "..."}) and returns ": <err>: <description>" for the attempt's error, or "" when the answer is not
// one. The receiver's words are kept short and printable: they end up in logs and in the outbox's
// attempt records.
func setRefusal(body io.Reader) string {
	var e struct {
		Err         string `json:"err"`
		Description string `json:"description"`
	}
	if json.NewDecoder(io.LimitReader(body, maxSETErrorBytes)).Decode(&e) != nil || !isErrorCode(e.Err) {
		return ""
	}
	s := ": " + e.Err
	if d := printable(e.Description, 120); d != "" {
		s += ": " + d
	}
	return s
}

// isErrorCode reports whether s looks like an RFC 8935 Section 2.4 error code (invalid_request,
// invalid_key, ...): 1 to 64 lower-case letters, digits and underscores.
func isErrorCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// printable keeps the printable ASCII of s, at most n bytes of it.
func printable(s string, n int) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		if c >= 0x20 && c < 0x7f {
			b.WriteRune(c)
		}
	}
	return strings.TrimSpace(b.String())
}
