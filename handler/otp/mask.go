package otp

import (
	"context"
	"strings"
)

// MaskPolicy shows a destination to the client without revealing it: enough for the person at the
// kiosk to recognise their own phone or mailbox, not enough for anyone else to learn it.
type MaskPolicy interface {
	// Mask returns the masked form of address for a channel of type t. It must never return the
	// address itself, and it must not fail: an address it cannot parse gets a fixed placeholder.
	Mask(ctx context.Context, t ChannelType, address string) string
}

// DefaultMask is the default MaskPolicy:
//
//   - phone numbers (sms, voice) keep their last four digits: "+15551234567" → "***-***-4567";
//   - e-mail addresses keep the first character of the local part, the first character of the domain
//     and its top-level domain: "hello@example.com" → "h***@e***.com".
//
// Anything else becomes "***". Short values reveal no more than four digits and two letters.
type DefaultMask struct{}

// Mask implements MaskPolicy.
func (DefaultMask) Mask(_ context.Context, t ChannelType, address string) string {
	switch t {
	case SMS, Voice:
		return MaskPhone(address)
	case Email:
		return MaskEmail(address)
	}
	return "***"
}

// MaskPhone keeps the last four digits of a phone number: "***-***-1234". A number with fewer than
// seven digits shows none.
func MaskPhone(number string) string {
	var digits []byte
	for i := 0; i < len(number); i++ {
		if c := number[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 7 {
		return "***-***-****"
	}
	return "***-***-" + string(digits[len(digits)-4:])
}

// MaskEmail keeps the first character of the local part and of the domain, and the top-level domain:
// "hello@example.com" → "h***@e***.com". A value that is not an address becomes "***@***".
func MaskEmail(address string) string {
	address = strings.TrimSpace(address)
	if i := strings.LastIndexByte(address, '<'); i >= 0 { // "Name <a@b.c>"
		address = strings.TrimSuffix(address[i+1:], ">")
	}
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || at == len(address)-1 {
		return "***@***"
	}
	local, domain := address[:at], strings.ToLower(address[at+1:])
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 {
		return "***@***"
	}
	return firstRune(local) + "***@" + firstRune(domain) + "***" + domain[dot:]
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}
