package notify

import (
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"strings"
)

// Channel is the way a message travels.
type Channel string

const (
	// Email is delivered to an RFC 5322 mailbox, for example by SMTP.
	Email Channel = "email"
	// SMS is a text message to a phone number in E.164 form.
	SMS Channel = "sms"
	// Voice is a phone call that reads Text aloud, to a number in E.164 form.
	Voice Channel = "voice"
)

// Message is one notification to one person: a one-time code, a sign-in link, an alert.
//
// Text always carries the full content, so every channel can deliver it; HTML is an optional
// richer body for e-mail. Neither is ever written into an error or a log line by this
// package, since both often hold a one-time code or a link that acts as a credential.
type Message struct {
	// To is the destination: an RFC 5322 address such as "ana@example.com" or
	// "Ana <ana@example.com>" for Email, an E.164 number such as "+14155550100" for SMS and
	// Voice.
	To string `json:"to"`
	// Channel says how to deliver the message.
	Channel Channel `json:"channel"`
	// Subject is the e-mail subject. Channels without a subject ignore it.
	Subject string `json:"subject,omitempty"`
	// Text is the plain-text body. It is required.
	Text string `json:"text"`
	// HTML is an optional HTML body for e-mail, sent as an alternative to Text.
	HTML string `json:"html,omitempty"`
	// Locale is the BCP 47 language tag the message is written in, such as "de-CH". E-mail
	// carries it as Content-Language (RFC 3282).
	Locale string `json:"locale,omitempty"`
	// Meta holds tags for the application and for the dev outbox, such as
	// {"kind": "otp"}. Senders do not transmit it.
	Meta map[string]string `json:"meta,omitempty"`
}

var (
	// e164 is "+" and 7 to 15 digits, not starting with 0 (ITU-T E.164 §6: at most 15 digits).
	e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// localeTag is a loose BCP 47 (RFC 5646 §2.1) shape: letters, then subtags of letters and
	// digits. It keeps a locale safe in a header and in a file path.
	localeTag = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)
)

// Validate checks that m can be delivered: a known channel, a destination of the right form
// for it, a text body, a single-line subject and a well-formed locale. Its errors wrap both
// ErrInvalidMessage and ErrPermanent; they never contain the body.
func (m Message) Validate() error {
	switch m.Channel {
	case Email:
		if err := validateEmail(m.To); err != nil {
			return err
		}
	case SMS, Voice:
		if !e164.MatchString(m.To) {
			return invalidf(`To for channel %q must be an E.164 number: "+" and 7 to 15 digits, no spaces (for example +14155550100)`, m.Channel)
		}
	case "":
		return invalidf("Channel is empty")
	default:
		return invalidf("unknown Channel %q (want %q, %q or %q)", m.Channel, Email, SMS, Voice)
	}
	if strings.TrimSpace(m.Text) == "" {
		return invalidf("Text is empty")
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return invalidf("Subject contains a line break")
	}
	if m.Locale != "" && !localeTag.MatchString(m.Locale) {
		return invalidf("Locale %q is not a language tag such as \"en\" or \"de-CH\"", m.Locale)
	}
	return nil
}

func validateEmail(to string) error {
	if to == "" {
		return invalidf("To is empty")
	}
	if strings.ContainsAny(to, "\r\n") {
		return invalidf("To contains a line break")
	}
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return invalidf("To is not an e-mail address: %v", err)
	}
	if i := strings.LastIndexByte(addr.Address, '@'); i <= 0 || i == len(addr.Address)-1 {
		return invalidf("To is not an e-mail address: want local-part@domain")
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return Permanent(fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...))
}

// clone returns a copy of m whose Meta can be changed without touching m's.
func (m Message) clone() Message {
	m.Meta = maps.Clone(m.Meta)
	return m
}
