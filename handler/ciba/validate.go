package ciba

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ory/fosite"
)

// MaxClientNotificationToken is the longest client_notification_token accepted (CIBA Core §7.1: "MUST
// NOT exceed 1024 characters").
const MaxClientNotificationToken = 1024

// validNotificationToken reports whether s has the b64token syntax of RFC 6750 §2.1, which CIBA Core §7.1
// requires of a client_notification_token, and is at most MaxClientNotificationToken long.
func validNotificationToken(s string) bool {
	if s == "" || len(s) > MaxClientNotificationToken {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0 {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// checkBindingMessage applies CIBA Core §7.1 ("relatively short and use a limited set of plain text
// characters"): valid UTF-8, at most maxLen characters, only printable characters and plain spaces.
func checkBindingMessage(msg string, maxLen int) error {
	if !utf8.ValidString(msg) {
		return ErrInvalidBindingMessage.WithHint("The binding message is not valid UTF-8.")
	}
	if n := utf8.RuneCountInString(msg); n > maxLen {
		return ErrInvalidBindingMessage.WithHintf("The binding message has %d characters; at most %d are accepted.", n, maxLen)
	}
	for _, r := range msg {
		if r != ' ' && !unicode.IsPrint(r) {
			return ErrInvalidBindingMessage.WithHint("The binding message holds a character that cannot be displayed.")
		}
	}
	if strings.TrimSpace(msg) == "" {
		return ErrInvalidBindingMessage.WithHint("The binding message is blank.")
	}
	return nil
}

// parseRequestedExpiry reads requested_expiry (CIBA Core §7.1): a positive integer number of seconds,
// given in a form as a decimal string, and in a signed request as a JSON string or number (§7.1.1).
func parseRequestedExpiry(v interface{}) (int64, error) {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = t.String()
	case float64:
		if t != math.Trunc(t) || t <= 0 || t > math.MaxInt32 {
			return 0, fosite.ErrInvalidRequest.WithHint("The requested_expiry must be a positive integer.")
		}
		return int64(t), nil
	default:
		return 0, fosite.ErrInvalidRequest.WithHint("The requested_expiry must be a positive integer.")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt32 || strings.HasPrefix(s, "+") {
		return 0, fosite.ErrInvalidRequest.WithHint("The requested_expiry must be a positive integer.")
	}
	return n, nil
}

// requestObjectParams are the claims of a signed request (CIBA Core §7.1.1) that carry request
// parameters; all are strings except requested_expiry.
var requestObjectParams = []string{
	"scope", "client_notification_token", "acr_values", "login_hint_token", "id_token_hint",
	"login_hint", "binding_message", "user_code", "requested_expiry", "audience", "resource",
}

// authParams are the form parameters that may accompany a signed request: client authentication only
// (CIBA Core §7.1.1).
var authParams = map[string]bool{
	"request": true, "client_id": true, "client_secret": true, "client_assertion": true, "client_assertion_type": true,
}

func stringClaim(claims map[string]interface{}, name string) (string, bool, error) {
	v, ok := claims[name]
	if !ok || v == nil {
		return "", false, nil
	}
	s, isString := v.(string)
	if !isString {
		return "", false, fosite.ErrInvalidRequest.WithHintf("The claim '%s' of the request object must be a string.", name)
	}
	return s, true, nil
}
